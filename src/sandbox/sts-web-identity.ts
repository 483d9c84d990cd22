// How STS validates the token of AssumeRoleWithWebIdentity (STS API reference,
// "AssumeRoleWithWebIdentity"; IAM User Guide, "Create an OpenID Connect (OIDC) identity
// provider in IAM" and "Available keys for AWS OIDC federation"): a JWT, whose `iss` is an IAM
// OIDC provider of the account, signed by a key the issuer publishes, whose `aud` is one of the
// provider's client IDs, and that is within its validity window. In the sandbox the only issuer
// whose keys can be fetched is the sandbox itself.

import { audiences, decodeJwt, numericClaim, type Jwt } from '../model/jwt.ts';
import { webIdentityContextKeys } from '../policy/web-identity.ts';
import { jwks, verifyJwtSignature } from './oidc.ts';
import { AwsFault } from './protocol.ts';
import type { World } from './state.ts';
import { providerUrl, type OidcProvider } from './world.ts';

/** Leeway for `nbf` and `iat` against clock drift between the issuer and STS. */
const LEEWAY_SEC = 5 * 60;

export const TOKEN_MESSAGES = {
  notJwt: 'The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)',
  noKey: "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements",
  notValidated: 'The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.',
  audience: 'Incorrect token audience',
} as const;

export interface VerifiedToken {
  jwt: Jwt;
  issuer: string;
  provider: OidcProvider;
  /** The `aud` value that matched one of the provider's client IDs. */
  audience: string;
  subject: string;
}

function invalid(message: string): AwsFault {
  return new AwsFault('InvalidIdentityToken', message, 400);
}

/** Validates the token in the order STS reports problems; throws AwsFault. */
export function verifyWebIdentityToken(world: World, token: string): VerifiedToken {
  let jwt: Jwt;
  try {
    jwt = decodeJwt(token);
  } catch {
    throw invalid(TOKEN_MESSAGES.notJwt);
  }
  const issuer = jwt.claims.iss;
  if (typeof issuer !== 'string' || issuer === '') throw invalid('Missing a required claim: iss');
  const provider = findProvider(world, issuer);
  checkSignature(world, token, provider);
  const audience = matchAudience(jwt, provider);
  const subject = jwt.claims.sub;
  if (typeof subject !== 'string' || subject === '') throw invalid('Missing a required claim: sub');
  checkValidity(jwt, Math.floor(world.now() / 1000));
  return { jwt, issuer, provider, audience, subject };
}

/** The IAM OIDC provider whose URL is the token's issuer (scheme and trailing slash dropped). */
function findProvider(world: World, issuer: string): OidcProvider {
  const url = providerUrl(issuer);
  const provider = Object.values(world.state.oidcProviders).find((p) => p.url === url);
  if (!provider) throw invalid(`No OpenIDConnect provider found in your account for ${issuer}`);
  return provider;
}

/**
 * STS fetches the issuer's JWKS. The sandbox can only reach its own issuer; any other
 * registered issuer is, from here, an issuer whose keys cannot be retrieved.
 */
function checkSignature(world: World, token: string, provider: OidcProvider): void {
  if (provider.url !== providerUrl(world.state.issuerUrl)) throw invalid(TOKEN_MESSAGES.noKey);
  const check = verifyJwtSignature(token, jwks(world.state.signingKeys).keys);
  if (!check.ok) throw invalid(check.reason === 'malformed' ? TOKEN_MESSAGES.notJwt : TOKEN_MESSAGES.notValidated);
}

function matchAudience(jwt: Jwt, provider: OidcProvider): string {
  const auds = audiences(jwt.claims);
  if (auds.length === 0) throw invalid('Missing a required claim: aud');
  const hit = auds.find((a) => provider.clientIds.includes(a));
  if (hit === undefined) throw invalid(TOKEN_MESSAGES.audience);
  return hit;
}

/** `exp` is required and strict; `nbf` and `iat` may be a little in the future. */
function checkValidity(jwt: Jwt, nowSec: number): void {
  const exp = numericClaim(jwt.claims, 'exp');
  if (exp === undefined) throw invalid('Missing a required claim: exp');
  if (nowSec >= exp) {
    throw new AwsFault('ExpiredTokenException',
      `Token expired: current date/time ${nowSec} must be before the expiration date/time ${Math.floor(exp)}`, 400);
  }
  const nbf = numericClaim(jwt.claims, 'nbf');
  if (nbf !== undefined && nbf > nowSec + LEEWAY_SEC) {
    throw invalid(`Token not yet valid: current date/time ${nowSec} must be after the not-before date/time ${Math.floor(nbf)}`);
  }
  const iat = numericClaim(jwt.claims, 'iat');
  if (iat !== undefined && iat > nowSec + LEEWAY_SEC) {
    throw invalid(`Token used before issued: current date/time ${nowSec} must be after the issued-at date/time ${Math.floor(iat)}`);
  }
}

/**
 * The request context keys the trust policy sees: `<provider>:aud` and `<provider>:sub` for
 * every issuer, the gitlab.com claim keys for gitlab.com only, and `sts:RoleSessionName`.
 */
export function webIdentityKeys(t: VerifiedToken, sessionName: string): Record<string, string | string[] | undefined> {
  return webIdentityContextKeys({ provider: t.provider.url, audience: t.audience, subject: t.subject, claims: t.jwt.claims, sessionName });
}
