// Reads the OIDC ID token from the source configuration chose (model/id-token.ts). The token
// stays a Secret from here on: it is handed to STS and decoded for diagnoses, never printed.

import { readFile } from 'node:fs/promises';
import { HoistError } from '../errors.ts';
import type { IdTokenSource } from '../model/id-token.ts';
import { Secret } from '../model/secret.ts';

export async function readIdToken(src: IdTokenSource, fetchImpl: typeof fetch = fetch): Promise<Secret> {
  switch (src.kind) {
    case 'variable':
      return src.token;
    case 'file':
      return fromFile(src.path, src.variable);
    case 'github-actions':
      return fromGithub(src.requestUrl, src.requestToken, src.audience, fetchImpl);
  }
}

async function fromFile(path: string, variable: string): Promise<Secret> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new HoistError(`cannot read the ID token file ${path} named by ${variable}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
      code: 'token.unreadable', op: 'read ID token', cause: err,
      hint: `Write the token there first (echo "$AWS_ID_TOKEN" > ${path}), or unset ${variable} and let hoist read $AWS_ID_TOKEN.`,
    });
  }
  const token = text.trim();
  if (!token) {
    throw new HoistError(`the ID token file ${path} named by ${variable} is empty`, {
      code: 'token.missing', op: 'read ID token', hint: 'The job wrote no token: check that id_tokens: is set on this job.',
    });
  }
  return new Secret(token);
}

/** GitHub Actions' OIDC endpoint (docs: "Configuring OpenID Connect in cloud providers"). */
async function fromGithub(requestUrl: string, requestToken: Secret, audience: string, fetchImpl: typeof fetch): Promise<Secret> {
  const url = new URL(requestUrl);
  url.searchParams.set('audience', audience);
  const res = await fetchImpl(url, { headers: { authorization: `bearer ${requestToken.reveal()}`, accept: 'application/json' } })
    .catch((err: unknown) => {
      throw new HoistError('cannot reach GitHub Actions\' ID token endpoint', { code: 'token.unreachable', retryable: true, cause: err });
    });
  if (!res.ok) {
    throw new HoistError(`GitHub Actions refused an ID token (HTTP ${res.status})`, {
      code: 'token.refused', hint: 'Give the workflow `permissions: id-token: write`.',
    });
  }
  const body = (await res.json()) as { value?: string };
  if (!body.value) throw new HoistError('GitHub Actions answered without a token', { code: 'token.missing' });
  return new Secret(body.value);
}
