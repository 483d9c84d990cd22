// The sandbox as a server facing hostile clients: random and mutated requests at every handler
// (Query, JSON 1.1, registry), then specific attacks — malformed or stale SigV4, replays after a
// session expired, forged ID tokens, path traversal in repository names, oversized bodies. The
// server must keep answering, answer client garbage with a coded 4xx (never 500), and leave the
// world unchanged when it refuses.

import assert from 'node:assert/strict';
import { createHash, createHmac, generateKeyPairSync, createSign } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';

import { seedWorld } from '../src/sandbox/defaults.ts';
import { generateSigningKey } from '../src/sandbox/oidc.ts';
import { startSandboxServer } from '../src/sandbox/server.ts';
import { watchWorld } from './support/secret-scan.ts';
import { World } from '../src/sandbox/state.ts';
import { fuzz, mutateString, randomBytes, randomJson, randomString, summary, type Rng } from './support/fuzz.ts';
import { REGION, ROLE_ARN, rejectsWith, startFixture, type Creds, type Fixture } from './support/sts-iam-fixture.ts';

const SECONDS = 3;
const ECR_TARGET = 'AmazonEC2ContainerRegistry_V20150921.';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Set when the connection failed instead of answering. */
  error?: string;
}

/** A raw HTTP request: the path is sent exactly as given (no URL normalisation of `..`). */
function send(base: string, opts: { method?: string; path?: string; headers?: Record<string, string>; body?: Buffer | string }): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve) => {
    let req;
    try {
      req = request({ host: url.hostname, port: url.port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers: opts.headers ?? {}, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), error: err.message }));
      });
    } catch (err) {
      // The client library refused to send it (e.g. an invalid header value): not the server's concern.
      resolve({ status: -1, headers: {}, body: '', error: (err as Error).message });
      return;
    }
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, headers: {}, body: '', error: err.code ?? err.message }));
    req.end(opts.body);
  });
}

/** AWS's code in a Query (XML) or JSON 1.1 error, or the registry's `errors[0].code`. */
function errorCode(a: Answer): string | undefined {
  const xml = /<Code>([^<]+)<\/Code>/.exec(a.body);
  if (xml) return xml[1];
  try {
    const doc = JSON.parse(a.body) as { __type?: string; errors?: { code?: string }[] };
    return doc.__type ?? doc.errors?.[0]?.code;
  } catch {
    return undefined;
  }
}

// ---- an independent SigV4 signer (node:crypto only) ----------------------------------------

const sha256 = (d: string | Buffer) => createHash('sha256').update(d).digest('hex');
const hmac = (k: string | Buffer, d: string) => createHmac('sha256', k).update(d).digest();
const amzDateOf = (ms: number) => new Date(ms).toISOString().replace(/[-:]|\.\d{3}/g, '');

function signedHeaders(base: string, creds: Creds, service: string, body: string, opts: { at?: number; target?: string } = {}): Record<string, string> {
  const host = new URL(base).host;
  const amzDate = amzDateOf(opts.at ?? Date.now());
  const date = amzDate.slice(0, 8);
  const scope = `${date}/${REGION}/${service}/aws4_request`;
  const names = ['host', 'x-amz-date', ...(opts.target ? ['x-amz-target'] : [])];
  const values: Record<string, string> = { host, 'x-amz-date': amzDate, ...(opts.target ? { 'x-amz-target': opts.target } : {}) };
  const canonical = ['POST', '/', '', names.map((n) => `${n}:${values[n]}\n`).join(''), names.join(';'), sha256(body)].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let key = hmac(`AWS4${creds.secretAccessKey}`, date);
  for (const part of [REGION, service, 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return {
    'x-amz-date': amzDate,
    authorization: `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`,
    ...(opts.target ? { 'x-amz-target': opts.target, 'content-type': 'application/x-amz-json-1.1' } : { 'content-type': 'application/x-www-form-urlencoded' }),
    ...(creds.sessionToken ? { 'x-amz-security-token': creds.sessionToken } : {}),
  };
}

// ---- generators -----------------------------------------------------------------------------

const QUERY_ACTIONS = ['GetCallerIdentity', 'AssumeRole', 'AssumeRoleWithWebIdentity', 'CreateRole', 'PutRolePolicy', 'GetRole', 'DeleteRole',
  'CreateOpenIDConnectProvider', 'ListRoles', 'UpdateAssumeRolePolicy', 'Bogus', ''];
const QUERY_PARAMS = ['Action', 'Version', 'RoleArn', 'RoleName', 'RoleSessionName', 'WebIdentityToken', 'DurationSeconds', 'PolicyDocument',
  'PolicyName', 'AssumeRolePolicyDocument', 'Url', 'ClientIDList.member.1', 'ThumbprintList.member.1', 'Tags.member.1.Key', 'MaxItems', 'Marker'];
const ECR_ACTIONS = ['CreateRepository', 'DescribeRepositories', 'DeleteRepository', 'PutImage', 'BatchGetImage', 'BatchDeleteImage',
  'DescribeImages', 'ListImages', 'GetAuthorizationToken', 'InitiateLayerUpload', 'UploadLayerPart', 'CompleteLayerUpload',
  'BatchCheckLayerAvailability', 'GetDownloadUrlForLayer', 'PutImageTagMutability', 'SetRepositoryPolicy', 'GetRepositoryPolicy',
  'TagResource', 'PutLifecyclePolicy', 'Nope', ''];
const ECR_KEYS = ['repositoryName', 'repositoryNames', 'registryId', 'imageIds', 'imageTag', 'imageDigest', 'imageManifest',
  'imageManifestMediaType', 'uploadId', 'layerPartBlob', 'partFirstByte', 'partLastByte', 'layerDigests', 'maxResults', 'nextToken',
  'imageTagMutability', 'policyText', 'force', 'tags', 'filter', 'encryptionConfiguration', '../..', 'fuzz/app', 'x'];

function genQueryBody(rng: Rng): string {
  const params = new URLSearchParams();
  if (rng.bool(0.9)) params.set('Action', rng.pick(QUERY_ACTIONS));
  if (rng.bool(0.7)) params.set('Version', rng.pick(['2011-06-15', '2010-05-08', randomString(rng, 8)]));
  for (let i = rng.size(8); i > 0; i--) params.append(rng.pick(QUERY_PARAMS), rng.bool(0.3) ? rng.pick([ROLE_ARN, 'x', '../../etc', '{}', JSON.stringify(randomJson(rng, 2))]) : randomString(rng, 60));
  const body = params.toString();
  return rng.bool(0.3) ? mutateString(rng, body, ['&', '=', '%', '%zz', '+', 'Action=', '.member.', '\u0000']) : body;
}

function genEcrBody(rng: Rng): string {
  switch (rng.int(4)) {
    case 0: return randomBytes(rng, 200).toString('latin1');
    case 1: return mutateString(rng, JSON.stringify({ repositoryName: 'fuzz/app', imageTag: 'v1' }), ['{', '}', '"', ':', ',', '[', 'null']);
    case 2: return JSON.stringify(randomJson(rng, 2, ECR_KEYS));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.size(5); i > 0; i--) o[rng.pick(ECR_KEYS)] = rng.bool(0.5) ? rng.pick(['fuzz/app', '../x', 'a'.repeat(300), 'sha256:' + '0'.repeat(64), 1e308, -1, [], {}, null]) : randomJson(rng, 2, ECR_KEYS);
      return JSON.stringify(o);
    }
  }
}

const PATH_PARTS = ['v2', 'fuzz', 'app', 'blobs', 'uploads', 'manifests', 'tags', 'list', '_catalog', '..', '%2e%2e', '%2E%2e', '.', '',
  '%2f', '%252e', 'sha256:' + 'a'.repeat(64), 'latest', 'é', '%00', 'A', 'a'.repeat(300), '~', '%'];

/** A registry path, percent-encoding what an HTTP client could not send raw. */
function genRegistryPath(rng: Rng): string {
  const parts = ['', 'v2', ...Array.from({ length: rng.size(7) }, () => (rng.bool(0.8) ? rng.pick(PATH_PARTS) : randomString(rng, 10)))];
  let path = parts.join('/');
  if (rng.bool(0.3)) path += `?n=${rng.pick(['0', '-1', '1001', '1e400', '99999999999999999999', 'x', '', '1.5'])}&last=${randomString(rng, 10)}`;
  return path.replace(/[^\x21-\x7e]/gu, (c) => [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''));
}

// ---- shared fixture -----------------------------------------------------------------------------

let f: Fixture;
let basic: string;
const problems: string[] = [];

before(async () => {
  f = await startFixture();
  // Every 5xx the sandbox logs is a bug it found in itself (InternalFailure / UNKNOWN).
  f.sandbox.context.log = (e) => {
    if (e.status >= 500) problems.push(`${e.kind} ${e.method ?? ''} ${e.path ?? e.action ?? ''}: ${e.status} ${e.error ?? ''}`);
  };
  const out = await f.ecr().send(new GetAuthorizationTokenCommand({}));
  basic = `Basic ${out.authorizationData![0]!.authorizationToken!}`;
  const created = await send(f.url, { method: 'POST', headers: signedHeaders(f.url, f.root, 'ecr', JSON.stringify({ repositoryName: 'fuzz/app' }), { target: `${ECR_TARGET}CreateRepository` }), body: JSON.stringify({ repositoryName: 'fuzz/app' }) });
  assert.equal(created.status, 200, created.body);
});
after(() => f.close());

/** The sandbox still answers a plain request. */
async function healthy(): Promise<void> {
  const a = await send(f.url, { path: '/.well-known/openid-configuration' });
  assert.equal(a.status, 200, `the sandbox stopped answering: ${a.error ?? a.status}`);
}

/**
 * One request's outcome against the rules: no 5xx; a refusal carries a code (AWS's or the
 * registry's) and leaves the world as it was; success may change it.
 */
function judge(what: string, a: Answer, before: string, apiPath: boolean): void {
  if (a.status === -1) return; // never sent
  assert.ok(a.status !== 0, `${what}: connection failed (${a.error})`);
  assert.ok(a.status < 500, `${what}: answered ${a.status} ${a.body.slice(0, 300)}`);
  if (a.status >= 400) {
    if (apiPath) assert.ok(errorCode(a), `${what}: ${a.status} without an error code: ${a.body.slice(0, 200)}`);
    assert.equal(JSON.stringify(f.world.state), before, `${what}: a refused request changed the world`);
  }
}

describe('random requests at every handler', () => {
  test('Query protocol (STS, IAM), unsigned and signed', { timeout: 60_000 }, async (t) => {
    const r = await fuzz('query', { seconds: SECONDS, hangMs: 2000 }, (rng) => ({ body: genQueryBody(rng), signed: rng.pick([undefined, 'sts', 'iam']), ct: rng.bool(0.9) }), async ({ body, signed, ct }) => {
      const before = JSON.stringify(f.world.state);
      const headers = signed ? signedHeaders(f.url, f.root, signed, body) : { ...(ct ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) };
      const a = await send(f.url, { method: 'POST', headers, body });
      judge('query', a, before, true);
    });
    t.diagnostic(summary(r));
    await healthy();
  });

  test('JSON 1.1 (ECR): random targets and bodies, unsigned and signed', { timeout: 60_000 }, async (t) => {
    const r = await fuzz('json', { seconds: SECONDS, hangMs: 2000 }, (rng) => ({
      target: rng.bool(0.9) ? `${ECR_TARGET}${rng.pick(ECR_ACTIONS)}` : rng.pick(['', 'AmazonEC2ContainerRegistry', randomString(rng, 30)]),
      body: genEcrBody(rng),
      signed: rng.bool(0.7),
    }), async ({ target, body, signed }) => {
      const before = JSON.stringify(f.world.state);
      const headers = signed ? signedHeaders(f.url, f.root, 'ecr', body, { target }) : { 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.1' };
      const a = await send(f.url, { method: 'POST', headers, body: Buffer.from(body, 'latin1') });
      judge(`json ${target}`, a, before, true);
    });
    t.diagnostic(summary(r));
    await healthy();
  });

  test('registry: traversal, encoded dots, double slashes, unicode, huge n, random methods', { timeout: 60_000 }, async (t) => {
    const r = await fuzz('registry', { seconds: SECONDS, hangMs: 2000 }, (rng) => ({
      path: genRegistryPath(rng),
      method: rng.pick(['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND', 'get']),
      auth: rng.pick([basic, basic, basic, undefined, 'Basic !!!', `Basic ${Buffer.from('AWS:nope').toString('base64')}`, 'Bearer x']),
      body: rng.bool(0.5) ? randomBytes(rng, 300) : undefined,
      type: rng.pick([undefined, 'application/vnd.oci.image.manifest.v1+json', 'application/octet-stream', randomString(rng, 20).replace(/[^\x21-\x7e]/g, '')]),
    }), async ({ path, method, auth, body, type }) => {
      const before = JSON.stringify(f.world.state);
      const headers: Record<string, string> = { ...(auth ? { authorization: auth } : {}), ...(type ? { 'content-type': type } : {}) };
      const a = await send(f.url, { method, path, headers, ...(body ? { body } : {}) });
      // HEAD answers carry no body; a 400 with no body is Node's HTTP parser refusing an unknown method.
      judge(`${method} ${path}`, a, before, method !== 'HEAD' && (a.status !== 400 || a.body !== ''));
    });
    t.diagnostic(summary(r));
    await healthy();
  });
});

// ---- specific attacks ------------------------------------------------------------------------------

describe('SigV4 attacks', () => {
  const body = 'Action=GetCallerIdentity&Version=2011-06-15';

  test('the signer in this file is right (a correctly signed request succeeds)', async () => {
    const a = await send(f.url, { method: 'POST', headers: signedHeaders(f.url, f.root, 'sts', body), body });
    assert.equal(a.status, 200, a.body);
  });

  test('malformed Authorization headers are IncompleteSignature (Query) / IncompleteSignatureException (JSON)', async () => {
    const good = signedHeaders(f.url, f.root, 'sts', body).authorization!;
    const cases: [string, string][] = [
      [good.replace(/Credential=[^,]+/, 'Credential=AKID/bad'), 'IncompleteSignature'],
      [good.replace(/, SignedHeaders=[^,]+/, ''), 'IncompleteSignature'],
      [good.replace(/, Signature=\w+/, ''), 'IncompleteSignature'],
      ['AWS4-HMAC-SHA1 Credential=x', 'IncompleteSignature'],
      ['', 'IncompleteSignature'],
      [good.replace('SignedHeaders=host;x-amz-date', 'SignedHeaders=x-amz-date'), 'IncompleteSignature'],
      [good.replace('/sts/', '/s3/'), 'SignatureDoesNotMatch'],
      [good.replace('aws4_request', 'aws5_request'), 'SignatureDoesNotMatch'],
      [good.replace(/Signature=\w+/, 'Signature=' + '0'.repeat(64)), 'SignatureDoesNotMatch'],
      [good.replace(/Credential=\w+/, 'Credential=AKIAFOREIGNKEY000000'), 'InvalidClientTokenId'],
    ];
    for (const [authorization, code] of cases) {
      const before = JSON.stringify(f.world.state);
      const a = await send(f.url, { method: 'POST', headers: { ...signedHeaders(f.url, f.root, 'sts', body), authorization }, body });
      assert.equal(errorCode(a), code, `${authorization}: ${a.body}`);
      assert.ok(a.status === 400 || a.status === 403, `${a.status}`);
      assert.equal(JSON.stringify(f.world.state), before);
    }
    const target = `${ECR_TARGET}DescribeRepositories`;
    const ecr = signedHeaders(f.url, f.root, 'ecr', '{}', { target });
    const a = await send(f.url, { method: 'POST', headers: { ...ecr, authorization: ecr.authorization!.replace(/, SignedHeaders=[^,]+/, '') }, body: '{}' });
    assert.deepEqual([a.status, errorCode(a)], [400, 'IncompleteSignatureException']);
  });

  test('a signature 20 minutes old is refused as expired (SDK with a skewed clock and raw)', async () => {
    await rejectsWith(f.sts(undefined, { systemClockOffset: -20 * 60 * 1000 }).send(new GetCallerIdentityCommand({})), 'SignatureDoesNotMatch', 403, /Signature expired/);
    const a = await send(f.url, { method: 'POST', headers: signedHeaders(f.url, f.root, 'sts', body, { at: Date.now() - 20 * 60 * 1000 }), body });
    assert.deepEqual([a.status, errorCode(a)], [403, 'SignatureDoesNotMatch']);
    const future = await send(f.url, { method: 'POST', headers: signedHeaders(f.url, f.root, 'sts', body, { at: Date.now() + 20 * 60 * 1000 }), body });
    assert.deepEqual([future.status, errorCode(future)], [403, 'SignatureDoesNotMatch']);
  });

  test('replaying a valid signed request after its session expired: ExpiredToken, nothing learnt', async () => {
    const token = await f.mint({ projectPath: 'mygroup/myrepo', ref: 'master' });
    const assume = new URLSearchParams({ Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15', RoleArn: ROLE_ARN, RoleSessionName: 'fuzz', WebIdentityToken: token, DurationSeconds: '900' }).toString();
    const got = await send(f.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: assume });
    assert.equal(got.status, 200, got.body);
    const creds: Creds = {
      accessKeyId: /<AccessKeyId>([^<]+)</.exec(got.body)![1]!,
      secretAccessKey: /<SecretAccessKey>([^<]+)</.exec(got.body)![1]!,
      sessionToken: /<SessionToken>([^<]+)</.exec(got.body)![1]!,
    };
    const headers = signedHeaders(f.url, creds, 'sts', body);
    const first = await send(f.url, { method: 'POST', headers, body });
    assert.equal(first.status, 200, first.body);
    f.advance(901 * 1000);
    try {
      const before = JSON.stringify(f.world.state);
      const replay = await send(f.url, { method: 'POST', headers, body });
      assert.deepEqual([replay.status, errorCode(replay)], [403, 'ExpiredToken']);
      assert.ok(!replay.body.includes('assumed-role'), 'the refusal names no principal');
      assert.equal(JSON.stringify(f.world.state), before);
    } finally {
      f.resetClock();
    }
  });
});

describe('forged ID tokens', () => {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

  async function refused(token: string, why: string): Promise<void> {
    const sessions = Object.keys(f.world.state.sessions).length;
    const before = JSON.stringify(f.world.state);
    const body = new URLSearchParams({ Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15', RoleArn: ROLE_ARN, RoleSessionName: 'evil', WebIdentityToken: token }).toString();
    const a = await send(f.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    assert.deepEqual([a.status, errorCode(a)], [400, 'InvalidIdentityToken'], `${why}: ${a.body}`);
    assert.equal(Object.keys(f.world.state.sessions).length, sessions, `${why}: a session was created`);
    assert.equal(JSON.stringify(f.world.state), before);
    assert.ok(!a.body.includes(token), 'the token is not echoed');
  }

  test('alg none, HS256 with the public key, a foreign RSA key, a wrong iss, a stripped or swapped signature', async () => {
    const good = await f.mint({ projectPath: 'mygroup/myrepo', ref: 'master' });
    const [h, p, s] = good.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
    await refused(`${b64({ ...header, alg: 'none' })}.${p}.`, 'alg none');
    await refused(`${b64({ alg: 'none', typ: 'JWT' })}.${p}.${s}`, 'alg none with a signature');
    const jwk = f.world.state.signingKeys[0]!;
    const hsInput = `${b64({ ...header, alg: 'HS256' })}.${p}`;
    const secret = JSON.stringify(jwk).slice(0, 64);
    await refused(`${hsInput}.${createHmac('sha256', secret).update(hsInput).digest('base64url')}`, 'HS256');
    await refused(f.sign({ projectPath: 'mygroup/myrepo', ref: 'master' }, generateSigningKey()), 'foreign RSA key');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const kidInput = `${h}.${p}`; // the issuer's kid, signed by someone else
    await refused(`${kidInput}.${createSign('sha256').update(kidInput).sign(privateKey).toString('base64url')}`, 'the issuer kid, another key');
    await refused(f.sign({ projectPath: 'mygroup/myrepo', ref: 'master' }, undefined, 'https://gitlab.evil.example'), 'wrong iss');
    await refused(`${h}.${p}.`, 'stripped signature');
    const otherClaims = b64({ ...JSON.parse(Buffer.from(p, 'base64url').toString()) as object, sub: 'project_path:evil/x:ref_type:branch:ref:master' });
    await refused(`${h}.${otherClaims}.${s}`, 'claims swapped under a valid signature');
  });

  test('random mutations of a valid token never assume the role', { timeout: 60_000 }, async (t) => {
    const good = await f.mint({ projectPath: 'mygroup/myrepo', ref: 'master' });
    const r = await fuzz('id-token', { seconds: 2, hangMs: 2000 }, (rng) => mutateString(rng, good, ['.', '-', '_', 'A', 'eyJ', '..', '=']), async (token) => {
      if (token === good) return;
      const before = JSON.stringify(f.world.state);
      const body = new URLSearchParams({ Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15', RoleArn: ROLE_ARN, RoleSessionName: 'm', WebIdentityToken: token }).toString();
      const a = await send(f.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      if (a.status === 200) {
        // Only a mutation that leaves the signed bytes intact may pass (e.g. trailing base64 bits).
        assert.equal(token.split('.').slice(0, 2).join('.'), good.split('.').slice(0, 2).join('.'), 'a token with other claims was accepted');
        return;
      }
      judge('token', a, before, true);
      assert.ok(['InvalidIdentityToken', 'ExpiredTokenException', 'ValidationError'].includes(errorCode(a)!), `${errorCode(a)}: ${a.body}`);
    });
    t.diagnostic(summary(r));
  });
});

describe('path traversal in repository names (persistent world)', () => {
  let parent: string;
  before(() => {
    parent = mkdtempSync(join(tmpdir(), 'hoist-fuzz-traversal-'));
  });
  after(() => rmSync(parent, { recursive: true, force: true }));

  function listFiles(dir: string): string[] {
    return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) => statSync(join(dir, p)).isFile()).sort();
  }

  test('registry and ECR API refuse traversing names (NAME_INVALID / InvalidParameterException) and write nothing outside --dir', async () => {
    const dir = join(parent, 'state');
    const world = await World.open({ dir, initial: () => seedWorld() });
    const sb = await startSandboxServer({ world, port: 0 });
    watchWorld(world, dir);
    try {
      const root = { accessKeyId: world.state.rootUser.accessKeyId, secretAccessKey: world.state.rootUser.secretAccessKey };
      const call = (action: string, input: unknown) => {
        const body = JSON.stringify(input);
        return send(sb.url, { method: 'POST', headers: signedHeaders(sb.url, root, 'ecr', body, { target: `${ECR_TARGET}${action}` }), body });
      };
      const tok = await call('GetAuthorizationToken', {});
      const auth = `Basic ${(JSON.parse(tok.body) as { authorizationData: { authorizationToken: string }[] }).authorizationData[0]!.authorizationToken}`;
      assert.equal((await call('CreateRepository', { repositoryName: 'team/app' })).status, 200);
      const outside = readdirSync(parent).sort();
      const before = listFiles(dir);
      const state = JSON.stringify(world.state);

      const names = ['..', '../..', '../../../../tmp/evil', 'team/../../evil', '%2e%2e', '%2e%2e/%2e%2e/evil', 'team/%2e%2e/%2e%2e/x', 'team//app',
        '/team/app', 'team/./app', '..%2f..%2fevil', 'team%2fapp', 'TEAM/app', 'team/app/', '.hidden', 'a', '%00', 'team/app%00'];
      for (const name of names) {
        for (const [method, suffix, body] of [
          ['PUT', '/manifests/latest', Buffer.from('{}')],
          ['POST', '/blobs/uploads/', undefined],
          ['GET', '/tags/list', undefined],
          ['GET', `/blobs/sha256:${'a'.repeat(64)}`, undefined],
        ] as const) {
          const path = `/v2/${name}${suffix}`;
          const a = await send(sb.url, { method, path, headers: { authorization: auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, ...(body ? { body } : {}) });
          assert.ok(a.status === 400 || a.status === 404, `${method} ${path}: ${a.status} ${a.body}`);
          assert.ok(['NAME_INVALID', 'NAME_UNKNOWN', 'UNSUPPORTED'].includes(errorCode(a)!), `${method} ${path}: ${a.body}`);
          if (/\.\.|%2e|\/\/|%00|%2f|^\//i.test(name)) assert.equal(errorCode(a), 'NAME_INVALID', `${method} ${path}: ${a.body}`);
        }
        const created = await call('CreateRepository', { repositoryName: name });
        if (name !== 'team/app/') assert.equal(errorCode(created), 'InvalidParameterException', `CreateRepository ${name}: ${created.body}`);
      }
      assert.equal(JSON.stringify(world.state), state, 'no refused request changed the state');
      assert.deepEqual(listFiles(dir), before, 'no file was written in the state dir');
      assert.deepEqual(readdirSync(parent).sort(), outside, 'no file was written next to the state dir');
    } finally {
      await sb.close();
    }
  });
});

describe('oversized bodies', () => {
  test('an API body over the limit is answered 413 with AWS\'s error, and the world is unchanged', { timeout: 60_000 }, async () => {
    const before = JSON.stringify(f.world.state);
    const huge = Buffer.alloc(29 * 1024 * 1024, 0x61);
    const a = await send(f.url, { method: 'POST', headers: { 'x-amz-target': `${ECR_TARGET}CreateRepository`, 'content-type': 'application/x-amz-json-1.1' }, body: huge });
    assert.equal(a.status, 413, `${a.error ?? ''} ${a.body}`);
    assert.equal(errorCode(a), 'RequestEntityTooLarge');
    const q = await send(f.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: huge });
    assert.equal(q.status, 413, `${q.error ?? ''} ${q.body}`);
    assert.equal(JSON.stringify(f.world.state), before);
    await healthy();
  });

  test('a manifest over 4 MiB is 413 MANIFEST_INVALID, nothing stored', { timeout: 60_000 }, async () => {
    // Its own repository: the JSON fuzzing above may have deleted fuzz/app.
    const create = JSON.stringify({ repositoryName: 'big/app' });
    await send(f.url, { method: 'POST', headers: signedHeaders(f.url, f.root, 'ecr', create, { target: `${ECR_TARGET}CreateRepository` }), body: create });
    const before = JSON.stringify(f.world.state);
    const big = Buffer.from(JSON.stringify({ schemaVersion: 2, pad: 'x'.repeat(4 * 1024 * 1024) }));
    const a = await send(f.url, { method: 'PUT', path: '/v2/big/app/manifests/big', headers: { authorization: basic, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: big });
    assert.deepEqual([a.status, errorCode(a)], [413, 'MANIFEST_INVALID'], a.error);
    assert.equal(JSON.stringify(f.world.state), before);
    await healthy();
  });

  test('the control endpoint refuses an oversized or malformed token request without crashing', async () => {
    const a = await send(f.url, { method: 'POST', path: '/_sandbox/token', body: '{not json' });
    assert.ok(a.status >= 400 && a.status < 500, `${a.status} ${a.body}`);
    const b = await send(f.url, { method: 'POST', path: '/_sandbox/token', body: Buffer.alloc(65 * 1024, 0x20) });
    assert.ok(b.status === 413 || b.status === 0, `${b.status} ${b.body}`);
    await healthy();
  });
});

test('no request in this file made the sandbox log an internal failure', () => {
  assert.deepEqual(problems, []);
});
