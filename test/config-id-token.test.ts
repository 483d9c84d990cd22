// Where the ID token comes from, and the answers for the seed's token troubles
// (`CI_JOB_JWT_V2: parameter not set`, no `id_tokens:` in the job).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Problem } from '../src/errors.ts';
import { checkPushConfig, resolvePushConfig } from '../src/config/push.ts';
import { type PushFlags } from '../src/config/settings.ts';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwcm9qZWN0X3BhdGg6bXlncm91cC9teXJlcG8ifQ.c2ln';
const BASE: Record<string, string> = {
  AWS_REGION: 'ap-south-1',
  AWS_ROLE_ARN: 'arn:aws:iam::831955480324:role/gitlab-runner-ecr-role',
  ECR_REPOSITORY: 'order-microservice',
  IMAGE_TAG: '3.0.0',
};

const ID_TOKENS_BLOCK = 'build-and-push:\n  id_tokens:\n    AWS_ID_TOKEN:\n      aud: sts.amazonaws.com';

function tokenProblems(env: Record<string, string>, flags: PushFlags = {}): Problem[] {
  return checkPushConfig({ env: { ...BASE, ...env }, flags }).problems;
}

test('AWS_ID_TOKEN (the seed\'s id_tokens variable) is the default source, and stays secret', () => {
  const c = resolvePushConfig({ env: { ...BASE, AWS_ID_TOKEN: TOKEN }, flags: {} });
  assert.equal(c.idToken.kind, 'variable');
  assert.ok(c.idToken.kind === 'variable' && c.idToken.token.reveal() === TOKEN);
  assert.equal(c.idToken.variable, 'AWS_ID_TOKEN');
  assert.equal(String(c.idToken.kind === 'variable' && c.idToken.token), '[redacted]');
});

test('--id-token-var names another variable', () => {
  const c = resolvePushConfig({ env: { ...BASE, GITLAB_OIDC_TOKEN: TOKEN }, flags: { idTokenVar: 'GITLAB_OIDC_TOKEN' } });
  assert.equal(c.idToken.kind === 'variable' && c.idToken.variable, 'GITLAB_OIDC_TOKEN');
  assert.equal(c.sources['id-token'], 'GITLAB_OIDC_TOKEN (environment)');
});

test('then AWS_WEB_IDENTITY_TOKEN_FILE, then GitHub Actions', () => {
  const file = resolvePushConfig({ env: { ...BASE, AWS_WEB_IDENTITY_TOKEN_FILE: '/tmp/web_identity_token' }, flags: {} });
  assert.deepEqual(file.idToken, { kind: 'file', variable: 'AWS_WEB_IDENTITY_TOKEN_FILE', path: '/tmp/web_identity_token' });
  const gh = resolvePushConfig({ env: { ...BASE, ACTIONS_ID_TOKEN_REQUEST_URL: 'https://token.actions/x?a=1', ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'req-secret' }, flags: {} });
  assert.equal(gh.idToken.kind, 'github-actions');
  assert.ok(gh.idToken.kind === 'github-actions' && gh.idToken.audience === 'sts.amazonaws.com');
  assert.equal(JSON.stringify(gh).includes('req-secret'), false);
  const both = resolvePushConfig({ env: { ...BASE, AWS_ID_TOKEN: TOKEN, AWS_WEB_IDENTITY_TOKEN_FILE: '/tmp/t' }, flags: {} });
  assert.equal(both.idToken.kind, 'variable', 'the id_tokens variable wins over the file');
});

test('no token anywhere: the hint is the exact id_tokens block to add to the job', () => {
  const [p, ...rest] = tokenProblems({});
  assert.deepEqual(rest, []);
  assert.deepEqual(p, {
    source: 'AWS_ID_TOKEN (environment)',
    message: 'no ID token: AWS_ID_TOKEN is not set, nor AWS_WEB_IDENTITY_TOKEN_FILE',
    hint: `Add an ID token to the GitLab job (GitLab then sets $AWS_ID_TOKEN):\n${ID_TOKENS_BLOCK}`,
  });
  const named = tokenProblems({ CI_JOB_NAME: 'publish' })[0]!;
  assert.match(named.hint!, /^publish:\n {2}id_tokens:/m, 'the block uses the job\'s own name');
  const china = tokenProblems({ AWS_REGION: 'cn-north-1', AWS_ROLE_ARN: 'arn:aws-cn:iam::831955480324:role/r' })[0]!;
  assert.match(china.hint!, /aud: sts\.amazonaws\.com\.cn$/, 'China uses its own STS audience');
});

test('--id-token-var CI_JOB_JWT_V2 gets the seed\'s troubleshooting answer', () => {
  const [p] = tokenProblems({ CI_JOB_JWT_V2: TOKEN }, { idTokenVar: 'CI_JOB_JWT_V2' });
  assert.deepEqual(p, {
    source: '--id-token-var',
    message: 'CI_JOB_JWT_V2 was removed in GitLab 17.0 (deprecated since 15.9); hoist uses an ID token declared with `id_tokens:` instead',
    hint: `Declare an ID token with \`id_tokens:\` and let hoist read $AWS_ID_TOKEN:\n${ID_TOKENS_BLOCK}`,
  });
});

test('only CI_JOB_JWT / CI_JOB_JWT_V2 set, or AWS_ID_TOKEN holding "$CI_JOB_JWT_V2": the same answer', () => {
  const cases: Array<Record<string, string>> = [{ CI_JOB_JWT_V2: TOKEN }, { CI_JOB_JWT: TOKEN }, { AWS_ID_TOKEN: '$CI_JOB_JWT_V2' }];
  for (const env of cases) {
    const [p, ...rest] = tokenProblems(env);
    assert.deepEqual(rest, []);
    assert.match(p!.message, /^CI_JOB_JWT(_V2)? was removed in GitLab 17\.0/, JSON.stringify(env));
    assert.ok(p!.hint!.endsWith(ID_TOKENS_BLOCK));
  }
});

test('an explicitly named variable must be set; names and values are not confused', () => {
  const unset = tokenProblems({ AWS_WEB_IDENTITY_TOKEN_FILE: '/tmp/t' }, { idTokenVar: 'MY_TOKEN' });
  assert.deepEqual(unset.map((p) => [p.source, p.message]), [['--id-token-var', 'names MY_TOKEN, which is not set']]);
  assert.match(unset[0]!.hint!, / {4}MY_TOKEN:\n {6}aud: sts\.amazonaws\.com$/);
  const dollar = tokenProblems({}, { idTokenVar: '$AWS_ID_TOKEN' })[0]!;
  assert.deepEqual([dollar.message, dollar.hint], ['"$AWS_ID_TOKEN" is not a variable name', 'Give the name without $: AWS_ID_TOKEN.']);
  const pasted = tokenProblems({}, { idTokenVar: TOKEN })[0]!;
  assert.equal(pasted.message, 'this is a token, not the name of a variable');
  assert.equal(JSON.stringify(pasted).includes(TOKEN), false, 'the problem does not repeat the token');
  const garbage = tokenProblems({ AWS_ID_TOKEN: 'not-a-jwt' })[0]!;
  assert.equal(garbage.message, 'does not hold an ID token (a JWT: three base64url parts separated by dots)');
  assert.equal(JSON.stringify(garbage).includes('not-a-jwt'), false);
});

test('GitHub Actions without id-token permission', () => {
  const [p] = tokenProblems({ GITHUB_ACTIONS: 'true' });
  assert.equal(p!.message, 'no ID token: this GitHub Actions job may not request one');
  assert.match(p!.hint!, /permissions:\n {2}id-token: write/);
});
