// The registry's login, as ECR does it: HTTP Basic with user `AWS` and the password from
// GetAuthorizationToken (no bearer-token exchange), then IAM on the repository ARN for every
// request, acting as the principal that obtained the token.

import type { IncomingMessage } from 'node:http';
import { check } from './authorize.ts';
import { ecrTokenKey } from './ecr.ts';
import type { SandboxContext } from './protocol.ts';
import { RegistryError, errors, type Exchange } from './registry-http.ts';
import { repositoryArn, type Principal } from './world.ts';

export const EXPIRED_MESSAGE = 'Your authorization token has expired. Reauthenticate and try again.';
const INVALID_MESSAGE = 'Your authorization token is invalid.';

/** ECR's challenge: Basic, realm = the registry's URL, service ecr.amazonaws.com. */
export function challenge(ctx: SandboxContext): string {
  return `Basic realm="${ctx.publicUrl}/",service="ecr.amazonaws.com"`;
}

function unauthorized(ctx: SandboxContext, code: string, message: string): RegistryError {
  return new RegistryError(401, code, message, undefined, { 'www-authenticate': challenge(ctx) });
}

/** ECR's answer to an expired token; its own class so the request log can mark the refusal as expiry. */
export class ExpiredTokenError extends RegistryError {}

function expired(ctx: SandboxContext): ExpiredTokenError {
  return new ExpiredTokenError(401, 'DENIED', EXPIRED_MESSAGE, undefined, { 'www-authenticate': challenge(ctx) });
}

function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const m = header === undefined ? null : /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const sep = decoded.indexOf(':');
  return sep < 0 ? undefined : { user: decoded.slice(0, sep), password: decoded.slice(sep + 1) };
}

/**
 * The principal an `Authorization: Basic` header stands for. Throws 401 without credentials,
 * for a user other than `AWS`, an unknown token, an expired one, or one whose credentials
 * (the STS session it came from) are gone or expired. Checked once, when the request arrives,
 * as ECR does: an upload whose PUT began with a valid token completes even if the token
 * expires while its body streams in.
 */
export function authenticate(ctx: SandboxContext, req: IncomingMessage): Principal {
  const header = req.headers.authorization;
  if (header === undefined) throw unauthorized(ctx, 'UNAUTHORIZED', 'Not Authorized');
  const creds = basicCredentials(header);
  if (!creds || creds.user !== 'AWS') throw unauthorized(ctx, 'UNAUTHORIZED', INVALID_MESSAGE);
  const state = ctx.world.state;
  const key = ecrTokenKey(creds.password);
  const token = Object.hasOwn(state.ecrTokens, key) ? state.ecrTokens[key] : undefined;
  if (!token) throw unauthorized(ctx, 'UNAUTHORIZED', INVALID_MESSAGE);
  const now = ctx.world.now();
  if (token.expiresAt <= now) throw expired(ctx);
  if (token.principal.kind !== 'root') {
    const session = Object.hasOwn(state.sessions, token.accessKeyId) ? state.sessions[token.accessKeyId] : undefined;
    if (!session) throw unauthorized(ctx, 'UNAUTHORIZED', INVALID_MESSAGE);
    if (session.expiresAt !== undefined && session.expiresAt <= now) throw expired(ctx);
  }
  return token.principal;
}

export function repositoryArnOf(ctx: SandboxContext, name: string): string {
  return repositoryArn(ctx.world.state.region, ctx.world.state.accountId, name);
}

/** IAM decides before ECR looks the repository up: a denied caller learns nothing about it. */
export function authorizeRepository(ex: Exchange, action: string, name: string): void {
  const d = check(ex.ctx.world, ex.principal!, action, repositoryArnOf(ex.ctx, name));
  if (!d.allowed) throw errors.denied(d.message);
}

export function mayOnRepository(ex: Exchange, action: string, name: string): boolean {
  return check(ex.ctx.world, ex.principal!, action, repositoryArnOf(ex.ctx, name)).allowed;
}
