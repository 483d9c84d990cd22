// Which ID token hoist will exchange with STS, decided from variables alone (no I/O):
//   1. the variable named by --id-token-var (default AWS_ID_TOKEN, the seed's `id_tokens:` name);
//   2. AWS_WEB_IDENTITY_TOKEN_FILE, the AWS SDKs' standard token file;
//   3. GitHub Actions' token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL + _TOKEN);
//   else a problem whose hint is the `id_tokens:` block to add to the job.
// A variable named explicitly must be set: hoist does not fall back behind the user's back.

import { type Problem } from '../errors.ts';
import { type Partition, partitionInfo } from '../model/aws.ts';
import { type IdTokenSource, idTokensBlock } from '../model/id-token.ts';
import { Secret } from '../model/secret.ts';
import { type Resolver, envSource, envValue, report, scalar } from './settings.ts';

const DEFAULT_VARIABLE = 'AWS_ID_TOKEN';
// CI_JOB_JWT and CI_JOB_JWT_V2 were deprecated in GitLab 15.9 and removed in 17.0
// (doc/ci/cloud_services/_index.md); the seed's Troubleshooting answers "CI_JOB_JWT_V2: parameter not set".
const REMOVED = ['CI_JOB_JWT', 'CI_JOB_JWT_V2'];
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function resolveIdToken(r: Resolver, partition: Partition | undefined): IdTokenSource | undefined {
  const named = scalar(r, 'id-token-var');
  const variable = named?.value ?? DEFAULT_VARIABLE;
  const audience = partitionInfo(partition ?? 'aws').stsAudience;
  const problem = named && badVariableName(named.value, named.source, audience, r);
  if (problem) return report(r, problem);
  const token = envValue(r.env, variable);
  if (token !== undefined) return fromVariable(r, variable, token, audience);
  if (named) return report(r, unsetVariable(named.source, variable, audience, r));
  r.sources['id-token'] = 'default';
  return fromFile(r) ?? fromGithub(r, audience) ?? report(r, missing(r, audience));
}

function badVariableName(name: string, source: string, audience: string, r: Resolver): Problem | undefined {
  if (REMOVED.includes(name)) return removedJwt(source, name, audience, r);
  if (JWT.test(name) && name.startsWith('eyJ')) {
    return { source, message: 'this is a token, not the name of a variable', hint: 'Pass the variable\'s name (e.g. AWS_ID_TOKEN); never put tokens on a command line or in a file in the repository.' };
  }
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return undefined;
  const bare = name.replace(/^\$\{?|\}$/g, '');
  return { source, message: `${JSON.stringify(name)} is not a variable name`, hint: /^\w+$/.test(bare) ? `Give the name without $: ${bare}.` : undefined };
}

function fromVariable(r: Resolver, variable: string, token: string, audience: string): IdTokenSource | undefined {
  r.sources['id-token'] = envSource(variable);
  const expanded = /^\$\{?(\w+)\}?$/.exec(token)?.[1];
  if (expanded !== undefined && REMOVED.includes(expanded)) return report(r, removedJwt(envSource(variable), expanded, audience, r));
  if (expanded !== undefined) {
    return report(r, { source: envSource(variable), message: `holds the text ${token}: the variable it refers to was not expanded`, hint: `Let GitLab issue the token:\n${block(r, variable, audience)}` });
  }
  if (!JWT.test(token)) {
    return report(r, { source: envSource(variable), message: 'does not hold an ID token (a JWT: three base64url parts separated by dots)', hint: `Let GitLab issue the token:\n${block(r, variable, audience)}` });
  }
  return { kind: 'variable', variable, token: new Secret(token) };
}

function fromFile(r: Resolver): IdTokenSource | undefined {
  const path = envValue(r.env, 'AWS_WEB_IDENTITY_TOKEN_FILE');
  if (path === undefined) return undefined;
  r.sources['id-token'] = envSource('AWS_WEB_IDENTITY_TOKEN_FILE');
  return { kind: 'file', variable: 'AWS_WEB_IDENTITY_TOKEN_FILE', path };
}

/** GitHub sets both variables only when the workflow grants `permissions: id-token: write`. */
function fromGithub(r: Resolver, audience: string): IdTokenSource | undefined {
  const requestUrl = envValue(r.env, 'ACTIONS_ID_TOKEN_REQUEST_URL');
  const requestToken = envValue(r.env, 'ACTIONS_ID_TOKEN_REQUEST_TOKEN');
  if (requestUrl === undefined || requestToken === undefined) return undefined;
  r.sources['id-token'] = envSource('ACTIONS_ID_TOKEN_REQUEST_URL');
  return { kind: 'github-actions', requestUrl, requestToken: new Secret(requestToken), audience };
}

function removedJwt(source: string, name: string, audience: string, r: Resolver): Problem {
  return {
    source,
    message: `${name} was removed in GitLab 17.0 (deprecated since 15.9); hoist uses an ID token declared with \`id_tokens:\` instead`,
    hint: `Declare an ID token with \`id_tokens:\` and let hoist read $${DEFAULT_VARIABLE}:\n${block(r, DEFAULT_VARIABLE, audience)}`,
  };
}

function unsetVariable(source: string, variable: string, audience: string, r: Resolver): Problem {
  return { source, message: `names ${variable}, which is not set`, hint: `Declare it in the job so GitLab issues the token:\n${block(r, variable, audience)}` };
}

function missing(r: Resolver, audience: string): Problem {
  const legacy = REMOVED.find((name) => envValue(r.env, name) !== undefined);
  if (legacy !== undefined) return removedJwt(envSource(legacy), legacy, audience, r);
  if (envValue(r.env, 'GITHUB_ACTIONS') === 'true') {
    return { source: envSource('ACTIONS_ID_TOKEN_REQUEST_URL'), message: 'no ID token: this GitHub Actions job may not request one', hint: 'Grant it in the workflow or job:\npermissions:\n  id-token: write\n  contents: read' };
  }
  return {
    source: envSource(DEFAULT_VARIABLE),
    message: `no ID token: ${DEFAULT_VARIABLE} is not set, nor AWS_WEB_IDENTITY_TOKEN_FILE`,
    hint: `Add an ID token to the GitLab job (GitLab then sets $${DEFAULT_VARIABLE}):\n${block(r, DEFAULT_VARIABLE, audience)}`,
  };
}

function block(r: Resolver, variable: string, audience: string): string {
  return idTokensBlock(variable, audience, envValue(r.env, 'CI_JOB_NAME'));
}
