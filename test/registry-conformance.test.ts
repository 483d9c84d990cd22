// The registry conformance suite (test/support/conformance.ts) held to the sandbox's ECR
// registry (blob mounting on and off) and to the real CNCF distribution registry, plus the
// ECR behaviours only the sandbox has: Basic challenge, expired/revoked tokens, IAM DENIED
// with the policy message, NAME_UNKNOWN, PATCH 201, TAG_INVALID on immutable tags.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import {
  BatchGetImageCommand, CreateRepositoryCommand, ECRClient, GetAuthorizationTokenCommand,
} from '@aws-sdk/client-ecr';
import { SEED, seedWorld } from '../src/sandbox/defaults.ts';
import { ecrTokenKey } from '../src/sandbox/ecr.ts';
import type { RequestLogEntry } from '../src/sandbox/protocol.ts';
import { startSandboxServer, type RunningSandbox } from '../src/sandbox/server.ts';
import { watchWorld } from './support/secret-scan.ts';
import { World } from '../src/sandbox/state.ts';
import { rootPrincipal, type Principal, type Session } from '../src/sandbox/world.ts';
import { startCncfRegistry } from './support/cncf-registry.ts';
import { requireComponent } from './support/components.ts';
import {
  OCI_MANIFEST, RegistryClient, assertBlob, type Reply, assertError, digestOf, prepareImage, registryConformance, withDigest,
} from './support/conformance.ts';

// The SDK's Node-version notice is not this test's concern.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const REGION = SEED.region;
const ACCOUNT = SEED.accountId;

interface SandboxTarget {
  world: World;
  sandbox: RunningSandbox;
  ecr: ECRClient;
  authHeader: string;
  logs: RequestLogEntry[];
  close(): Promise<void>;
}

async function startSandboxTarget(opts: { blobMounting: boolean; dir?: string }): Promise<SandboxTarget> {
  const world = await World.open({ initial: () => seedWorld(), ...(opts.dir ? { dir: opts.dir } : {}) });
  world.state.settings.blobMounting = opts.blobMounting;
  const logs: RequestLogEntry[] = [];
  const sandbox = await startSandboxServer({ world, port: 0, log: (e) => logs.push(e) });
  watchWorld(world, opts.dir);
  const root = world.state.rootUser;
  const ecr = new ECRClient({
    endpoint: sandbox.url, region: REGION, maxAttempts: 1,
    credentials: { accessKeyId: root.accessKeyId, secretAccessKey: root.secretAccessKey },
  });
  const out = await ecr.send(new GetAuthorizationTokenCommand({}));
  const token = out.authorizationData?.[0]?.authorizationToken;
  assert.ok(token, 'GetAuthorizationToken returned a token');
  return {
    world, sandbox, ecr, logs, authHeader: `Basic ${token}`,
    close: async () => {
      ecr.destroy();
      await sandbox.close();
    },
  };
}

async function sandboxConformance(blobMounting: boolean): Promise<void> {
  const target = await startSandboxTarget({ blobMounting });
  after(() => target.close());
  registryConformance({
    name: `sandbox ECR registry, BLOB_MOUNTING ${blobMounting ? 'ENABLED' : 'DISABLED'}`,
    url: target.sandbox.url,
    authHeader: async () => target.authHeader,
    repo: 'conformance/app',
    features: {
      mount: blobMounting, tagDelete: true, blobDelete: false, patchStatus: 201, manifestDelete: true,
      singlePost: true, tagPagination: true, chunkOrder416: true,
    },
    setupRepo: async (name) => {
      await target.ecr.send(new CreateRepositoryCommand({ repositoryName: name }));
    },
  });
}

// ---- the suite against the sandbox, mount on and off ------------------------------------

await sandboxConformance(true);
await sandboxConformance(false);

// ---- the suite against the real CNCF registry --------------------------------------------

let cncfProblem: string | undefined;
try {
  cncfProblem = await requireComponent('docker-registry', 'htpasswd');
} catch (err) {
  // Under CI=true a missing component is a failure, never a skip (DESIGN §4).
  test('distribution conformance: CNCF registry (docker-registry)', () => {
    throw err;
  });
  cncfProblem = 'failed above';
}
if (cncfProblem === undefined) {
  const registry = await startCncfRegistry({ auth: 'basic' }).catch((err: unknown) => {
    test('distribution conformance: CNCF registry (docker-registry) starts', () => {
      throw err;
    });
    return undefined;
  });
  if (registry) {
    after(() => registry.stop());
    const user = registry.users![0]!;
    const basic = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
    registryConformance({
      name: 'CNCF distribution registry (docker-registry, Basic auth)',
      url: registry.url,
      authHeader: async () => basic,
      repo: 'conformance/app',
      features: {
        mount: true, tagDelete: false, blobDelete: true, patchStatus: 202, manifestDelete: true,
        singlePost: false, tagPagination: false, chunkOrder416: false,
      },
    });
  }
} else if (cncfProblem !== 'failed above') {
  test('distribution conformance: CNCF registry (docker-registry)', { skip: cncfProblem }, () => {});
}

// ---- ECR behaviours of the sandbox --------------------------------------------------------

/** Adds a role with one inline policy, an STS-like session for it and an ECR token; returns the Basic header. */
function roleLogin(world: World, roleName: string, policy: object, opts: { expired?: boolean } = {}): { header: string; session: Session } {
  const state = world.state;
  const arn = `arn:aws:iam::${ACCOUNT}:role/${roleName}`;
  state.roles[roleName] = {
    name: roleName, path: '/', arn, roleId: `AROA${randomBytes(8).toString('hex').toUpperCase()}`,
    assumeRolePolicy: '{"Version":"2012-10-17","Statement":[]}', maxSessionDuration: 3600,
    inlinePolicies: { inline: JSON.stringify(policy) }, attachedPolicyArns: [], createdAt: Date.now(),
  };
  const principal: Principal = {
    kind: 'assumed-role', accountId: ACCOUNT, arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${roleName}/ci-job`,
    roleName, roleArn: arn, roleId: state.roles[roleName]!.roleId, sessionName: 'ci-job',
  };
  const session: Session = {
    accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64'),
    sessionToken: randomBytes(40).toString('base64'), expiresAt: Date.now() + 3600_000, principal,
  };
  state.sessions[session.accessKeyId] = session;
  const password = randomBytes(48).toString('base64');
  state.ecrTokens[ecrTokenKey(password)] = {
    principal, accessKeyId: session.accessKeyId, expiresAt: opts.expired ? Date.now() - 1000 : Date.now() + 3600_000,
  };
  return { header: `Basic ${Buffer.from(`AWS:${password}`).toString('base64')}`, session };
}

/** GET with the path sent byte for byte (no URL normalisation). */
function rawGet(base: string, path: string, authorization: string): Promise<Reply> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path, method: 'GET', headers: { authorization }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode ?? 0,
        headers: new Headers(Object.entries(res.headers).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v] as [string, string]] : []))),
        body: Buffer.concat(chunks),
      }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const repoArn = (name: string) => `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/${name}`;

describe('sandbox registry: ECR behaviours', () => {
  let t: SandboxTarget;
  let client: RegistryClient;
  let dir: string;
  const repo = 'quirks/app';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hoist-registry-'));
    t = await startSandboxTarget({ blobMounting: true, dir });
    client = new RegistryClient({ url: t.sandbox.url, authHeader: async () => t.authHeader });
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: repo }));
  });
  after(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("answers /v2/ without credentials with ECR's Basic challenge", async () => {
    const r = await fetch(`${t.sandbox.url}/v2/`);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), `Basic realm="${t.sandbox.url}/",service="ecr.amazonaws.com"`);
    const body = (await r.json()) as { errors: Array<{ code: string }> };
    assert.equal(body.errors[0]!.code, 'UNAUTHORIZED');
  });

  it('rejects a wrong user name, an unknown token, and Bearer auth with 401', async () => {
    const creds = Buffer.from(t.authHeader.slice('Basic '.length), 'base64').toString();
    const password = creds.slice(creds.indexOf(':') + 1);
    for (const header of [
      `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`,
      `Basic ${Buffer.from(`AWS:${randomBytes(20).toString('base64')}`).toString('base64')}`,
      `Bearer ${password}`,
    ]) {
      const r = await new RegistryClient({ url: t.sandbox.url, authHeader: async () => header }).request('GET', '/v2/');
      assertError(r, 401, 'UNAUTHORIZED');
      assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm=/);
    }
  });

  it("rejects an expired token with 401 and ECR's message", async () => {
    const password = randomBytes(48).toString('base64');
    t.world.state.ecrTokens[ecrTokenKey(password)] = {
      principal: rootPrincipal(t.world.state), accessKeyId: t.world.state.rootUser.accessKeyId, expiresAt: Date.now() - 1,
    };
    const expired = new RegistryClient({ url: t.sandbox.url, authHeader: async () => `Basic ${Buffer.from(`AWS:${password}`).toString('base64')}` });
    const r = await expired.request('GET', `/v2/${repo}/tags/list`);
    assert.equal(r.status, 401);
    assert.equal((JSON.parse(r.body.toString()) as { errors: Array<{ message: string }> }).errors[0]!.message,
      'Your authorization token has expired. Reauthenticate and try again.');
  });

  it('rejects a token whose STS session is gone', async () => {
    const { header, session } = roleLogin(t.world, 'revoked-role', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*' }] });
    const c = new RegistryClient({ url: t.sandbox.url, authHeader: async () => header });
    assert.equal((await c.request('GET', `/v2/${repo}/tags/list`)).status, 200);
    delete t.world.state.sessions[session.accessKeyId];
    assertError(await c.request('GET', `/v2/${repo}/tags/list`), 401, 'UNAUTHORIZED');
  });

  it("answers 404 NAME_UNKNOWN with ECR's message for a repository that was not created (push and pull)", async () => {
    const message = `The repository with name 'not/created' does not exist in the registry with id '${ACCOUNT}'`;
    for (const [method, path] of [['POST', '/v2/not/created/blobs/uploads/'], ['GET', '/v2/not/created/manifests/latest'], ['HEAD', `/v2/not/created/blobs/${digestOf(Buffer.from('x'))}`]] as const) {
      const r = await client.request(method, path);
      assert.equal(r.status, 404, `${method} ${path}`);
      if (method !== 'HEAD') {
        assertError(r, 404, 'NAME_UNKNOWN');
        assert.equal((JSON.parse(r.body.toString()) as { errors: Array<{ message: string }> }).errors[0]!.message, message);
      }
    }
  });

  it('rejects invalid repository names and path traversal with NAME_INVALID', async () => {
    // fetch would normalise `..` away; send the raw path as a hostile client would.
    for (const path of ['/v2/../etc/tags/list', '/v2/a/../b/tags/list', '/v2/a/%2e%2e/b/tags/list', '/v2/%2E%2E/x/manifests/latest', '/v2/Upper/tags/list', '/v2/a//b/tags/list']) {
      assertError(await rawGet(t.sandbox.url, path, t.authHeader), 400, 'NAME_INVALID', path);
    }
  });

  it('answers PATCH with 201, as ECR does', async () => {
    const start = await client.startUpload(repo);
    const r = await client.request('PATCH', start.location, { body: randomBytes(100) });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('range'), '0-99');
  });

  it('TAG_INVALID on an immutable tag, even for the same digest', async () => {
    const name = 'quirks/immutable';
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: name, imageTagMutability: 'IMMUTABLE' }));
    const img = await prepareImage(client, name, 'oci');
    assert.equal((await client.putManifest(name, 'v1', img.manifest, img.mediaType)).status, 201);
    const again = await client.putManifest(name, 'v1', img.manifest, img.mediaType);
    assertError(again, 400, 'TAG_INVALID');
    assert.equal((JSON.parse(again.body.toString()) as { errors: Array<{ message: string }> }).errors[0]!.message,
      "The image tag 'v1' already exists in the 'quirks/immutable' repository and cannot be overwritten because the tag is immutable.");
    assert.equal((await client.putManifest(name, img.digest, img.manifest, img.mediaType)).status, 201, 'by digest is fine');
  });

  it('DENIED with the IAM message for an assumed role lacking ecr:PutImage; IAM decides before the lookup', async () => {
    const { header } = roleLogin(t.world, 'pull-and-upload', {
      Version: '2012-10-17',
      Statement: [{
        Effect: 'Allow', Resource: repoArn(repo),
        Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability', 'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload'],
      }],
    });
    const limited = new RegistryClient({ url: t.sandbox.url, authHeader: async () => header });
    const img = await prepareImage(limited, repo, 'oci');
    const put = await limited.putManifest(repo, 'denied', img.manifest, img.mediaType);
    assertError(put, 403, 'DENIED');
    const principal = `arn:aws:sts::${ACCOUNT}:assumed-role/pull-and-upload/ci-job`;
    assert.equal((JSON.parse(put.body.toString()) as { errors: Array<{ message: string }> }).errors[0]!.message,
      `User: ${principal} is not authorized to perform: ecr:PutImage on resource: ${repoArn(repo)} because no identity-based policy allows the ecr:PutImage action`);
    assertError(await limited.request('GET', '/v2/elsewhere/tags/list'), 403, 'DENIED', 'other repository, even a missing one');
    assertError(await limited.request('DELETE', `/v2/${repo}/manifests/${img.digest}`), 403, 'DENIED');
    await assertBlob(limited, repo, img.layer);
  });

  it('keeps blobs per repository: a blob pushed elsewhere is BLOB_UNKNOWN here', async () => {
    const other = 'quirks/other';
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: other }));
    const digest = await client.pushBlob(other, randomBytes(300));
    assertError(await client.request('GET', `/v2/${repo}/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
  });

  it('refuses a mount (202) when the caller may not read the source repository', async () => {
    const source = 'quirks/secret';
    await t.ecr.send(new CreateRepositoryCommand({ repositoryName: source }));
    const digest = await client.pushBlob(source, randomBytes(300));
    const { header } = roleLogin(t.world, 'no-read-on-source', {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: repoArn(repo) }],
    });
    const limited = new RegistryClient({ url: t.sandbox.url, authHeader: async () => header });
    const r = await limited.startUpload(repo, `?mount=${digest}&from=${source}`);
    assert.equal(r.status, 202);
    assert.equal((await client.startUpload(repo, `?mount=${digest}&from=${source}`)).status, 201, 'root may mount');
  });

  it('does not let another principal continue an upload', async () => {
    const start = await client.startUpload(repo);
    const { header } = roleLogin(t.world, 'other-pusher', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:*', Resource: '*' }] });
    const other = new RegistryClient({ url: t.sandbox.url, authHeader: async () => header });
    assertError(await other.request('PATCH', start.location, { body: randomBytes(10) }), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('lists in /v2/_catalog only the repositories the caller may describe', async () => {
    const all = JSON.parse((await client.request('GET', '/v2/_catalog?n=1000')).body.toString()) as { repositories: string[] };
    assert.ok(all.repositories.includes(repo) && all.repositories.includes('quirks/immutable'));
    assert.deepEqual(all.repositories, [...all.repositories].sort());
    const { header } = roleLogin(t.world, 'describe-one', {
      Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecr:DescribeRepositories', Resource: repoArn(repo) }],
    });
    const limited = new RegistryClient({ url: t.sandbox.url, authHeader: async () => header });
    const mine = JSON.parse((await limited.request('GET', '/v2/_catalog')).body.toString()) as { repositories: string[] };
    assert.deepEqual(mine.repositories, [repo]);
  });

  it('rejects tags/list n > 1000 like ECR', async () => {
    const r = await client.request('GET', `/v2/${repo}/tags/list?n=1001`);
    assertError(r, 400, 'UNSUPPORTED');
    assert.match(r.body.toString(), /Member must have value less than or equal to 1000/);
  });

  it('rejects a manifest over 4 MiB with 413 MANIFEST_INVALID', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
    assertError(await client.putManifest(repo, 'big', big, OCI_MANIFEST), 413, 'MANIFEST_INVALID');
  });

  it('shares images with the ECR API and persists a blob link before answering 201', async () => {
    const img = await prepareImage(client, repo, 'docker');
    assert.equal((await client.putManifest(repo, 'shared', img.manifest, img.mediaType)).status, 201);
    const out = await t.ecr.send(new BatchGetImageCommand({ repositoryName: repo, imageIds: [{ imageTag: 'shared' }] }));
    assert.equal(out.images?.[0]?.imageManifest, img.manifest.toString());
    assert.equal(out.images?.[0]?.imageId?.imageDigest, img.digest);
    const onDisk = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as typeof t.world.state;
    assert.equal(onDisk.repositories[repo]!.layers[digestOf(img.layer)], img.layer.length);
    assert.equal(onDisk.repositories[repo]!.tags.shared, img.digest);
  });

  it('logs every request without credentials or query strings', async () => {
    const start = await client.startUpload(repo);
    await client.request('PUT', withDigest(start.location, digestOf(Buffer.from('log me'))), { body: Buffer.from('log me') });
    const entries = t.logs.filter((e) => e.kind === 'registry');
    assert.ok(entries.length > 10);
    const text = JSON.stringify(t.logs);
    const password = Buffer.from(t.authHeader.slice(6), 'base64').toString().slice(4);
    assert.ok(!text.includes(password) && !text.includes(t.authHeader.slice(6)), 'no token in the log');
    assert.ok(!text.includes('?digest='), 'no query strings');
    const put = entries.filter((e) => e.method === 'PUT').at(-1)!;
    assert.equal(put.status, 201);
    assert.equal(put.principal, `arn:aws:iam::${ACCOUNT}:root`);
    assert.equal(put.bytesIn, 6);
    assert.ok(entries.some((e) => e.error === 'NAME_UNKNOWN' && e.status === 404));
  });
});
