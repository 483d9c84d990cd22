// The request context AWS STS builds from a web-identity token (IAM User Guide, "Available keys
// for AWS OIDC federation"; GitLab docs, "Use ID token claims in cloud trust policies"):
// `<provider>:aud` and `<provider>:sub` for every issuer, the gitlab.com claim keys for the
// gitlab.com identity provider only, and `sts:RoleSessionName`. Pure: the sandbox's STS and
// `hoist doctor` evaluate trust policies against the same keys.

/** Condition keys IAM exposes for gitlab.com tokens besides `aud` and `sub`. */
export const GITLAB_COM_CLAIM_KEYS = [
  'namespace_id', 'project_id', 'user_id', 'user_login', 'user_email', 'user_access_level',
  'ref_protected', 'pipeline_source', 'runner_environment',
] as const;

/** The IAM OIDC provider "URL" of an issuer: no scheme, no trailing slash (`gitlab.com`). */
export function providerHost(issuer: string): string {
  return issuer.replace(/^https?:\/\//i, '').replace(/\/+$/, '');
}

export interface WebIdentity {
  /** Provider URL as IAM stores it, e.g. `gitlab.com`. */
  provider: string;
  /** The `aud` value STS matched against the provider's client IDs. */
  audience: string;
  subject: string;
  claims: Readonly<Record<string, unknown>>;
  sessionName?: string;
}

export function webIdentityContextKeys(t: WebIdentity): Record<string, string | string[] | undefined> {
  const host = t.provider;
  const keys: Record<string, string | string[] | undefined> = {
    [`${host}:aud`]: t.audience,
    [`${host}:sub`]: t.subject,
    ...(t.sessionName !== undefined ? { 'sts:RoleSessionName': t.sessionName } : {}),
  };
  if (host === 'gitlab.com') {
    for (const claim of GITLAB_COM_CLAIM_KEYS) keys[`${host}:${claim}`] = claimValue(t.claims[claim]);
  }
  return keys;
}

function claimValue(v: unknown): string | string[] | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.filter((x) => ['string', 'number', 'boolean'].includes(typeof x)).map(String);
  return undefined;
}
