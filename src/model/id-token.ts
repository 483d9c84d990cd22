// Where the OIDC ID token for AssumeRoleWithWebIdentity comes from, as data: configuration
// decides the source without I/O; the code that runs the job reads or requests the token.

import { type Secret } from './secret.ts';

export type IdTokenSource =
  /** A CI variable holding the token, e.g. GitLab `id_tokens: AWS_ID_TOKEN`. */
  | { kind: 'variable'; variable: string; token: Secret }
  /** A file the token is (re)read from: `AWS_WEB_IDENTITY_TOKEN_FILE`, as the AWS SDKs do. */
  | { kind: 'file'; variable: string; path: string }
  /** GitHub Actions: GET `requestUrl&audience=…` with `Authorization: bearer <requestToken>`. */
  | { kind: 'github-actions'; requestUrl: string; requestToken: Secret; audience: string };

/** The job-level YAML GitLab needs to issue the token (GitLab docs, "ID token authentication"). */
export function idTokensBlock(variable: string, audience: string, job = 'build-and-push'): string {
  return [`${job}:`, '  id_tokens:', `    ${variable}:`, `      aud: ${audience}`].join('\n');
}
