// The sandbox's ECR API driven by the real AWS SDK v3 ECRClient: every action's success and
// error shapes must deserialize, with ECR's codes and messages; plus the shared image rules
// of src/sandbox/images.ts that the registry relies on too.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  BatchCheckLayerAvailabilityCommand, BatchDeleteImageCommand, BatchGetImageCommand, CompleteLayerUploadCommand,
  CreateRepositoryCommand, DeleteRepositoryCommand, DescribeImagesCommand, DescribeRepositoriesCommand, ECRClient,
  GetAccountSettingCommand, GetAuthorizationTokenCommand, GetDownloadUrlForLayerCommand, InitiateLayerUploadCommand,
  ListImagesCommand, PutAccountSettingCommand, PutImageCommand, PutImageScanningConfigurationCommand,
  PutImageTagMutabilityCommand, UploadLayerPartCommand, paginateDescribeImages, paginateDescribeRepositories,
  paginateListImages, type ECRServiceException, type UploadLayerPartCommandOutput,
} from '@aws-sdk/client-ecr';
import { seedWorld, SEED } from '../src/sandbox/defaults.ts';
import { ecrTokenKey } from '../src/sandbox/ecr.ts';
import {
  ManifestInvalid, MEDIA_TYPES, ReferencesMissing, TagImmutable, deleteManifest, manifestInfo, putManifest, untag,
} from '../src/sandbox/images.ts';
import { startSandboxServer, type RunningSandbox } from '../src/sandbox/server.ts';
import { watchWorld } from './support/secret-scan.ts';
import { World } from '../src/sandbox/state.ts';
import { sha256 } from '../src/sandbox/store.ts';
import { rootPrincipal, type Session } from '../src/sandbox/world.ts';

const ACCOUNT = SEED.accountId;
const REGION = SEED.region;
const HOUR = 3600_000;

let world: World;
let sandbox: RunningSandbox;
let ecr: ECRClient;
let clock = Date.now();

function client(accessKeyId: string, secretAccessKey: string, sessionToken?: string): ECRClient {
  return new ECRClient({
    endpoint: sandbox.url, region: REGION, maxAttempts: 1,
    credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) },
  });
}

/** An assumed-role session for the seed role, as STS would have issued it. */
function roleSession(name: string, expiresAt: number): Session {
  const role = world.state.roles[SEED.roleName]!;
  const session: Session = {
    accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64').slice(0, 40),
    sessionToken: `IQoJ${randomBytes(64).toString('base64')}`,
    expiresAt,
    principal: {
      kind: 'assumed-role', accountId: ACCOUNT, arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role.name}/${name}`,
      roleName: role.name, roleArn: role.arn, roleId: role.roleId, sessionName: name,
    },
  };
  world.state.sessions[session.accessKeyId] = session;
  return session;
}

async function fault(p: Promise<unknown>, name: string, message?: RegExp | string): Promise<ECRServiceException> {
  try {
    await p;
  } catch (err) {
    const e = err as ECRServiceException;
    assert.equal(e.name, name, `expected ${name}, got ${e.name}: ${e.message}`);
    assert.equal(e.$fault, 'client');
    assert.equal(e.$metadata.httpStatusCode, 400);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return e;
  }
  assert.fail(`expected ${name}`);
}

const createRepo = (repositoryName: string, extra: Partial<ConstructorParameters<typeof CreateRepositoryCommand>[0]> = {}) =>
  ecr.send(new CreateRepositoryCommand({ repositoryName, ...extra }));

/** Uploads a blob through the ECR layer-upload API in parts of `partSize` bytes. */
async function uploadLayer(repositoryName: string, bytes: Buffer, partSize = bytes.length): Promise<string> {
  const { uploadId, partSize: advertised } = await ecr.send(new InitiateLayerUploadCommand({ repositoryName }));
  assert.ok(uploadId);
  assert.equal(advertised, 10 * 1024 * 1024);
  for (let first = 0; first < bytes.length; first += partSize) {
    const part = bytes.subarray(first, first + partSize);
    const out: UploadLayerPartCommandOutput = await ecr.send(new UploadLayerPartCommand({
      repositoryName, uploadId, partFirstByte: first, partLastByte: first + part.length - 1, layerPartBlob: part,
    }));
    assert.equal(out.lastByteReceived, first + part.length - 1);
    assert.equal(out.uploadId, uploadId);
  }
  const done = await ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId, layerDigests: [sha256(bytes)] }));
  assert.equal(done.layerDigest, sha256(bytes));
  assert.equal(done.registryId, ACCOUNT);
  return done.layerDigest!;
}

interface TestImage {
  manifest: string;
  digest: string;
  config: Buffer;
  layer: Buffer;
}

function ociImage(seed: string, mediaType: string = MEDIA_TYPES.ociManifest): TestImage {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed, rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = randomBytes(1024 + Math.floor(Math.random() * 1024));
  const docker = mediaType === MEDIA_TYPES.dockerManifest;
  const manifest = JSON.stringify({
    schemaVersion: 2, mediaType,
    config: { mediaType: docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: [{ mediaType: docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
  });
  return { manifest, digest: sha256(manifest), config, layer };
}

async function pushImage(repositoryName: string, img: TestImage, imageTag?: string): Promise<void> {
  await uploadLayer(repositoryName, img.config);
  await uploadLayer(repositoryName, img.layer);
  await ecr.send(new PutImageCommand({ repositoryName, imageManifest: img.manifest, ...(imageTag ? { imageTag } : {}) }));
}

function index(children: TestImage[]): string {
  return JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex,
    manifests: children.map((c, i) => ({
      mediaType: MEDIA_TYPES.ociManifest, digest: c.digest, size: Buffer.byteLength(c.manifest),
      platform: { architecture: i ? 'arm64' : 'amd64', os: 'linux' },
    })),
  });
}

before(async () => {
  world = await World.open({ initial: () => seedWorld(), now: () => clock });
  sandbox = await startSandboxServer({ world, port: 0 });
  watchWorld(world);
  ecr = client(world.state.rootUser.accessKeyId, world.state.rootUser.secretAccessKey);
});

after(async () => {
  ecr.destroy();
  await sandbox.close();
});

describe('repositories', () => {
  test('CreateRepository answers the repository with defaults, as ECR does', async () => {
    const before = Date.now();
    const { repository: r } = await createRepo('team/app-one');
    assert.ok(r);
    assert.equal(r.repositoryName, 'team/app-one');
    assert.equal(r.repositoryArn, `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/team/app-one`);
    assert.equal(r.registryId, ACCOUNT);
    assert.equal(r.repositoryUri, `${sandbox.registryHost}/team/app-one`);
    assert.ok(r.createdAt instanceof Date && r.createdAt.getTime() >= before - 1000);
    assert.equal(r.imageTagMutability, 'MUTABLE');
    assert.deepEqual(r.imageScanningConfiguration, { scanOnPush: false });
    assert.deepEqual(r.encryptionConfiguration, { encryptionType: 'AES256' });
  });

  test('CreateRepository with IMMUTABLE tags, scan on push, KMS and tags', async () => {
    const kmsKey = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    const { repository: r } = await createRepo('app-two', {
      imageTagMutability: 'IMMUTABLE', imageScanningConfiguration: { scanOnPush: true },
      encryptionConfiguration: { encryptionType: 'KMS', kmsKey }, tags: [{ Key: 'team', Value: 'platform' }],
    });
    assert.equal(r?.imageTagMutability, 'IMMUTABLE');
    assert.deepEqual(r?.imageScanningConfiguration, { scanOnPush: true });
    assert.deepEqual(r?.encryptionConfiguration, { encryptionType: 'KMS', kmsKey });
    const { repository: managed } = await createRepo('app-kms-default', { encryptionConfiguration: { encryptionType: 'KMS' } });
    assert.match(managed?.encryptionConfiguration?.kmsKey ?? '', /^arn:aws:kms:ap-south-1:831955480324:key\//);
  });

  test('CreateRepository errors: exists, name rules, enum values, tags', async () => {
    await createRepo('dup-repo');
    await fault(createRepo('dup-repo'), 'RepositoryAlreadyExistsException',
      `The repository with name 'dup-repo' already exists in the registry with id '${ACCOUNT}'`);
    const regex = "Invalid parameter at 'repositoryName' failed to satisfy constraint: " +
      "'must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*''";
    for (const bad of ['Upper', 'trailing-', 'a//b', '/lead', 'double..dot', 'sp ace']) {
      await fault(createRepo(bad), 'InvalidParameterException', regex);
    }
    await fault(createRepo('a'), 'InvalidParameterException',
      "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must have length greater than or equal to 2'");
    await fault(createRepo('a'.repeat(257)), 'InvalidParameterException', /must have length less than or equal to 256/);
    await fault(createRepo('ok-name', { imageTagMutability: 'SOMETIMES' as 'MUTABLE' }), 'InvalidParameterException', /imageTagMutability/);
    await fault(createRepo('ok-name', { encryptionConfiguration: { encryptionType: 'AES256', kmsKey: 'k' } }), 'InvalidParameterException');
    await fault(createRepo('ok-name', { tags: [{ Key: '', Value: 'x' }] }), 'InvalidTagParameterException');
    assert.equal(world.state.repositories['ok-name'], undefined);
    // The longest legal name and nested paths are accepted.
    await createRepo(`${'a'.repeat(127)}/${'b'.repeat(128)}`);
  });

  test('DescribeRepositories by name, RepositoryNotFoundException, and pagination', async () => {
    for (const n of ['page/r1', 'page/r2', 'page/r3', 'page/r4', 'page/r5']) await createRepo(n);
    const named = await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['page/r2', 'page/r1'] }));
    assert.deepEqual(named.repositories?.map((r) => r.repositoryName), ['page/r2', 'page/r1']);
    assert.equal(named.nextToken, undefined);
    await fault(ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['page/r1', 'no-such-repo'] })),
      'RepositoryNotFoundException', `The repository with name 'no-such-repo' does not exist in the registry with id '${ACCOUNT}'`);
    const first = await ecr.send(new DescribeRepositoriesCommand({ maxResults: 2 }));
    assert.equal(first.repositories?.length, 2);
    assert.ok(first.nextToken);
    const names: string[] = [];
    let pages = 0;
    for await (const page of paginateDescribeRepositories({ client: ecr, pageSize: 2 }, {})) {
      pages++;
      names.push(...(page.repositories ?? []).map((r) => r.repositoryName!));
    }
    const all = Object.keys(world.state.repositories).sort();
    assert.deepEqual(names, all);
    assert.equal(pages, Math.ceil(all.length / 2));
    await fault(ecr.send(new DescribeRepositoriesCommand({ nextToken: 'garbage' })), 'InvalidParameterException', /nextToken/);
    await fault(ecr.send(new DescribeRepositoriesCommand({ maxResults: 0 })), 'InvalidParameterException', /maxResults/);
    await fault(ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['page/r1'], maxResults: 1 })), 'InvalidParameterException');
  });

  test('PutImageTagMutability and PutImageScanningConfiguration', async () => {
    await createRepo('settings-repo');
    const m = await ecr.send(new PutImageTagMutabilityCommand({ repositoryName: 'settings-repo', imageTagMutability: 'IMMUTABLE' }));
    assert.deepEqual({ ...m, $metadata: undefined }, {
      $metadata: undefined, registryId: ACCOUNT, repositoryName: 'settings-repo', imageTagMutability: 'IMMUTABLE',
    });
    const s = await ecr.send(new PutImageScanningConfigurationCommand({
      repositoryName: 'settings-repo', imageScanningConfiguration: { scanOnPush: true },
    }));
    assert.deepEqual(s.imageScanningConfiguration, { scanOnPush: true });
    const repo = world.state.repositories['settings-repo']!;
    assert.equal(repo.tagMutability, 'IMMUTABLE');
    assert.equal(repo.scanOnPush, true);
    await fault(ecr.send(new PutImageTagMutabilityCommand({ repositoryName: 'missing-repo', imageTagMutability: 'MUTABLE' })),
      'RepositoryNotFoundException', /'missing-repo' does not exist/);
    await fault(ecr.send(new PutImageScanningConfigurationCommand({
      repositoryName: 'missing-repo', imageScanningConfiguration: { scanOnPush: true },
    })), 'RepositoryNotFoundException');
    await fault(ecr.send(new PutImageTagMutabilityCommand({ repositoryName: 'settings-repo', imageTagMutability: 'NEVER' as 'MUTABLE' })),
      'InvalidParameterException');
  });

  test('DeleteRepository: not found, not empty, force', async () => {
    await fault(ecr.send(new DeleteRepositoryCommand({ repositoryName: 'never-made' })), 'RepositoryNotFoundException');
    await createRepo('doomed');
    await pushImage('doomed', ociImage('doomed'), 'v1');
    await fault(ecr.send(new DeleteRepositoryCommand({ repositoryName: 'doomed' })), 'RepositoryNotEmptyException',
      `The repository with name 'doomed' in registry with id '${ACCOUNT}' cannot be deleted because it still contains images`);
    const out = await ecr.send(new DeleteRepositoryCommand({ repositoryName: 'doomed', force: true }));
    assert.equal(out.repository?.repositoryName, 'doomed');
    assert.equal(world.state.repositories.doomed, undefined);
    await createRepo('empty-doomed');
    await ecr.send(new DeleteRepositoryCommand({ repositoryName: 'empty-doomed' }));
    assert.equal(world.state.repositories['empty-doomed'], undefined);
  });
});

describe('registry login and account settings', () => {
  test('GetAuthorizationToken: AWS:<password>, 12 hours for long-term keys, stored by hash', async () => {
    const now = clock;
    const out = await ecr.send(new GetAuthorizationTokenCommand({}));
    assert.equal(out.authorizationData?.length, 1);
    const data = out.authorizationData![0]!;
    assert.equal(data.proxyEndpoint, `http://${sandbox.registryHost}`);
    const decoded = Buffer.from(data.authorizationToken!, 'base64').toString('utf8');
    assert.ok(decoded.startsWith('AWS:'));
    const password = decoded.slice(4);
    assert.ok(password.length >= 64);
    assert.ok(data.expiresAt instanceof Date);
    assert.ok(Math.abs(data.expiresAt.getTime() - (now + 12 * HOUR)) < 1000);
    const key = createHash('sha256').update(password).digest('hex');
    assert.equal(ecrTokenKey(password), key);
    const token = world.state.ecrTokens[key];
    assert.ok(token);
    assert.equal(token.principal.kind, 'root');
    assert.equal(token.accessKeyId, world.state.rootUser.accessKeyId);
    assert.ok(!JSON.stringify(world.state).includes(password), 'state never holds the password');
    const again = await ecr.send(new GetAuthorizationTokenCommand({}));
    assert.notEqual(again.authorizationData![0]!.authorizationToken, data.authorizationToken);
  });

  test('GetAuthorizationToken with temporary credentials expires with them', async () => {
    const session = roleSession('token-test', clock + 45 * 60_000);
    const role = client(session.accessKeyId, session.secretAccessKey, session.sessionToken);
    try {
      const data = (await role.send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!;
      assert.equal(data.expiresAt?.getTime(), session.expiresAt);
      const password = Buffer.from(data.authorizationToken!, 'base64').toString('utf8').slice(4);
      const token = world.state.ecrTokens[ecrTokenKey(password)]!;
      assert.equal(token.expiresAt, session.expiresAt);
      assert.equal(token.accessKeyId, session.accessKeyId);
      assert.equal(token.principal.arn, session.principal.arn);
    } finally {
      role.destroy();
    }
  });

  test('expired tokens are pruned when new ones are issued', async () => {
    world.state.ecrTokens.stale = { principal: rootPrincipal(world.state), accessKeyId: 'x', expiresAt: clock - 1 };
    await ecr.send(new GetAuthorizationTokenCommand({}));
    assert.equal(world.state.ecrTokens.stale, undefined);
  });

  test('GetAccountSetting / PutAccountSetting BLOB_MOUNTING', async () => {
    const get = () => ecr.send(new GetAccountSettingCommand({ name: 'BLOB_MOUNTING' }));
    assert.deepEqual({ name: (await get()).name, value: (await get()).value }, { name: 'BLOB_MOUNTING', value: 'DISABLED' });
    const put = await ecr.send(new PutAccountSettingCommand({ name: 'BLOB_MOUNTING', value: 'ENABLED' }));
    assert.equal(put.value, 'ENABLED');
    assert.equal(world.state.settings.blobMounting, true);
    assert.equal((await get()).value, 'ENABLED');
    await ecr.send(new PutAccountSettingCommand({ name: 'BLOB_MOUNTING', value: 'DISABLED' }));
    assert.equal(world.state.settings.blobMounting, false);
    await fault(ecr.send(new PutAccountSettingCommand({ name: 'BLOB_MOUNTING', value: 'MAYBE' })), 'ValidationException');
    await fault(ecr.send(new GetAccountSettingCommand({ name: 'NOPE' })), 'ValidationException');
  });
});

describe('layer upload API and images', () => {
  test('round trip: upload → check → PutImage (OCI) → BatchGetImage → DescribeImages → ListImages → download URL', async () => {
    await createRepo('round-trip');
    const img = ociImage('round-trip');
    const configDigest = await uploadLayer('round-trip', img.config);
    const layerDigest = await uploadLayer('round-trip', img.layer);
    const missing = sha256('not uploaded');
    const check = await ecr.send(new BatchCheckLayerAvailabilityCommand({
      repositoryName: 'round-trip', layerDigests: [layerDigest, configDigest, missing, 'nonsense'],
    }));
    assert.deepEqual(check.layers, [
      { layerDigest, layerAvailability: 'AVAILABLE', layerSize: img.layer.length },
      { layerDigest: configDigest, layerAvailability: 'AVAILABLE', layerSize: img.config.length },
    ]);
    assert.deepEqual(check.failures?.map((f) => [f.layerDigest, f.failureCode]), [
      [missing, 'MissingLayerDigest'], ['nonsense', 'InvalidLayerDigest'],
    ]);
    assert.ok(check.failures?.every((f) => typeof f.failureReason === 'string'));

    const put = await ecr.send(new PutImageCommand({
      repositoryName: 'round-trip', imageManifest: img.manifest, imageTag: 'v1', imageDigest: img.digest,
    }));
    assert.deepEqual(put.image, {
      registryId: ACCOUNT, repositoryName: 'round-trip', imageId: { imageDigest: img.digest, imageTag: 'v1' },
      imageManifest: img.manifest, imageManifestMediaType: MEDIA_TYPES.ociManifest,
    });

    const got = await ecr.send(new BatchGetImageCommand({ repositoryName: 'round-trip', imageIds: [{ imageTag: 'v1' }, { imageDigest: img.digest }] }));
    assert.deepEqual(got.failures, []);
    assert.equal(got.images?.length, 2);
    assert.equal(got.images![0]!.imageManifest, img.manifest);
    assert.deepEqual(got.images![0]!.imageId, { imageDigest: img.digest, imageTag: 'v1' });
    assert.deepEqual(got.images![1]!.imageId, { imageDigest: img.digest });
    assert.equal(got.images![1]!.imageManifestMediaType, MEDIA_TYPES.ociManifest);
    assert.equal(sha256(got.images![0]!.imageManifest!), img.digest);

    const described = await ecr.send(new DescribeImagesCommand({ repositoryName: 'round-trip' }));
    const d = described.imageDetails?.[0];
    assert.ok(d);
    assert.equal(d.imageDigest, img.digest);
    assert.deepEqual(d.imageTags, ['v1']);
    assert.equal(d.imageSizeInBytes, img.layer.length);
    assert.equal(d.imageManifestMediaType, MEDIA_TYPES.ociManifest);
    assert.equal(d.artifactMediaType, 'application/vnd.oci.image.config.v1+json');
    assert.equal(d.registryId, ACCOUNT);
    assert.equal(d.repositoryName, 'round-trip');
    assert.ok(d.imagePushedAt instanceof Date && Math.abs(d.imagePushedAt.getTime() - clock) < 1000);

    const withTypes = await ecr.send(new BatchCheckLayerAvailabilityCommand({ repositoryName: 'round-trip', layerDigests: [layerDigest] }));
    assert.equal(withTypes.layers?.[0]?.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');

    const listed = await ecr.send(new ListImagesCommand({ repositoryName: 'round-trip' }));
    assert.deepEqual(listed.imageIds, [{ imageDigest: img.digest, imageTag: 'v1' }]);

    const url = await ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'round-trip', layerDigest }));
    assert.equal(url.downloadUrl, `${sandbox.url}/v2/round-trip/blobs/${layerDigest}`);
    assert.equal(url.layerDigest, layerDigest);
    const blob = await world.blobs.read(layerDigest);
    assert.ok(blob.equals(img.layer));
  });

  test('multi-part upload: 5 MiB parts then a short last part', async () => {
    await createRepo('multipart');
    const bytes = randomBytes(5 * 1024 * 1024 * 2 + 12345);
    const digest = await uploadLayer('multipart', bytes, 5 * 1024 * 1024);
    assert.equal(world.state.repositories.multipart!.layers[digest], bytes.length);
    assert.ok((await world.blobs.read(digest)).equals(bytes));
  });

  test('upload errors: UploadNotFound, InvalidLayerPart, InvalidLayer, LayerAlreadyExists, EmptyUpload, LayerPartTooSmall', async () => {
    await createRepo('upload-errors');
    const repositoryName = 'upload-errors';
    const part = (uploadId: string, first: number, bytes: Buffer, last = first + bytes.length - 1) =>
      ecr.send(new UploadLayerPartCommand({ repositoryName, uploadId, partFirstByte: first, partLastByte: last, layerPartBlob: bytes }));
    await fault(part('00000000-0000-0000-0000-000000000000', 0, Buffer.from('x')), 'UploadNotFoundException', /does not exist/);
    await fault(ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId: 'nope', layerDigests: [sha256('x')] })), 'UploadNotFoundException');

    const { uploadId } = await ecr.send(new InitiateLayerUploadCommand({ repositoryName }));
    await fault(ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId, layerDigests: [sha256('')] })), 'EmptyUploadException');
    const gap = await fault(part(uploadId!, 5, Buffer.from('hello')), 'InvalidLayerPartException');
    assert.equal((gap as unknown as { lastValidByteReceived: number }).lastValidByteReceived, -1);
    assert.equal((gap as unknown as { uploadId: string }).uploadId, uploadId);
    assert.equal((gap as unknown as { repositoryName: string }).repositoryName, repositoryName);
    await fault(part(uploadId!, 0, Buffer.from('hello'), 9), 'InvalidLayerPartException', /does not match/);
    await part(uploadId!, 0, Buffer.from('hello'));
    const overlap = await fault(part(uploadId!, 3, Buffer.from('xx')), 'InvalidLayerPartException');
    assert.equal((overlap as unknown as { lastValidByteReceived: number }).lastValidByteReceived, 4);
    // Another repository cannot use this upload.
    await createRepo('upload-errors-2');
    await fault(ecr.send(new UploadLayerPartCommand({
      repositoryName: 'upload-errors-2', uploadId, partFirstByte: 5, partLastByte: 5, layerPartBlob: Buffer.from('!'),
    })), 'UploadNotFoundException');
    await fault(ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId, layerDigests: [sha256('other')] })),
      'InvalidLayerException', new RegExp(sha256('hello')));
    // The failed upload is gone, and nothing was linked.
    await fault(ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId, layerDigests: [sha256('hello')] })), 'UploadNotFoundException');
    assert.deepEqual(world.state.repositories[repositoryName]!.layers, {});

    // Any of the listed digests may match.
    const id2 = (await ecr.send(new InitiateLayerUploadCommand({ repositoryName }))).uploadId!;
    await part(id2, 0, Buffer.from('hello'));
    const ok = await ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId: id2, layerDigests: [sha256('other'), sha256('hello')] }));
    assert.equal(ok.layerDigest, sha256('hello'));
    const id3 = (await ecr.send(new InitiateLayerUploadCommand({ repositoryName }))).uploadId!;
    await part(id3, 0, Buffer.from('hello'));
    await fault(ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId: id3, layerDigests: [sha256('hello')] })),
      'LayerAlreadyExistsException', new RegExp(`'${sha256('hello')}' already exists`));

    const id4 = (await ecr.send(new InitiateLayerUploadCommand({ repositoryName }))).uploadId!;
    await part(id4, 0, Buffer.from('small'));
    await part(id4, 5, Buffer.from('again'));
    await fault(ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId: id4, layerDigests: [sha256('smallagain')] })),
      'LayerPartTooSmallException');
    await fault(ecr.send(new InitiateLayerUploadCommand({ repositoryName: 'missing-repo' })), 'RepositoryNotFoundException');
  });

  test('PutImage errors: invalid manifest, digest mismatch, missing layers, already exists', async () => {
    await createRepo('put-errors');
    const repositoryName = 'put-errors';
    const put = (imageManifest: string, extra: Record<string, string> = {}) =>
      ecr.send(new PutImageCommand({ repositoryName, imageManifest, ...extra }));
    const img = ociImage('put-errors');
    await fault(put('{not json'), 'InvalidParameterException', /Invalid JSON syntax/);
    await fault(put(JSON.stringify({ schemaVersion: 2, config: {}, layers: [] })), 'InvalidParameterException', /mediaType/);
    await fault(put(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.layer.v1.tar', layers: [] })),
      'InvalidParameterException', /unsupported manifest media type/);
    await fault(put(img.manifest, { imageDigest: sha256('other') }), 'ImageDigestDoesNotMatchException');
    const e = await fault(put(img.manifest, { imageTag: 'v1' }), 'LayersNotFoundException');
    assert.ok(e.message.includes(sha256(img.config)) && e.message.includes(sha256(img.layer)));
    await uploadLayer(repositoryName, img.config);
    await fault(put(img.manifest, { imageTag: 'v1' }), 'LayersNotFoundException', new RegExp(`\\[${sha256(img.layer)}\\]`));
    await uploadLayer(repositoryName, img.layer);
    // Without mediaType in the manifest, the declared imageManifestMediaType is used.
    const bare = JSON.parse(img.manifest) as Record<string, unknown>;
    delete bare.mediaType;
    const bareText = JSON.stringify(bare);
    const declared = await put(bareText, { imageManifestMediaType: MEDIA_TYPES.ociManifest, imageTag: 'bare' });
    assert.equal(declared.image?.imageManifestMediaType, MEDIA_TYPES.ociManifest);
    await put(img.manifest, { imageTag: 'v1' });
    await fault(put(img.manifest, { imageTag: 'v1' }), 'ImageAlreadyExistsException',
      `Image with digest '${img.digest}' and tag 'v1' already exists in the repository with name '${repositoryName}' in registry with id '${ACCOUNT}'`);
    // A new tag on the same image is fine.
    await put(img.manifest, { imageTag: 'v1-alias' });
    const described = await ecr.send(new DescribeImagesCommand({ repositoryName, imageIds: [{ imageDigest: img.digest }] }));
    assert.deepEqual(described.imageDetails?.[0]?.imageTags, ['v1', 'v1-alias']);
    await fault(ecr.send(new PutImageCommand({ repositoryName: 'missing-repo', imageManifest: img.manifest })), 'RepositoryNotFoundException');
  });

  test('tag immutability: ImageTagAlreadyExistsException, same digest → ImageAlreadyExistsException; mutable tags move', async () => {
    await createRepo('immutable', { imageTagMutability: 'IMMUTABLE' });
    const a = ociImage('imm-a');
    const b = ociImage('imm-b');
    await pushImage('immutable', a, 'release');
    await uploadLayer('immutable', b.config);
    await uploadLayer('immutable', b.layer);
    await fault(ecr.send(new PutImageCommand({ repositoryName: 'immutable', imageManifest: b.manifest, imageTag: 'release' })),
      'ImageTagAlreadyExistsException',
      "The image tag 'release' already exists in the 'immutable' repository and cannot be overwritten because the repository is immutable.");
    await fault(ecr.send(new PutImageCommand({ repositoryName: 'immutable', imageManifest: a.manifest, imageTag: 'release' })),
      'ImageAlreadyExistsException');
    assert.equal(world.state.repositories.immutable!.tags.release, a.digest);

    await createRepo('mutable');
    await pushImage('mutable', a, 'latest');
    await pushImage('mutable', b, 'latest');
    const repo = world.state.repositories.mutable!;
    assert.equal(repo.tags.latest, b.digest);
    const untagged = await ecr.send(new DescribeImagesCommand({ repositoryName: 'mutable', filter: { tagStatus: 'UNTAGGED' } }));
    assert.deepEqual(untagged.imageDetails?.map((d) => [d.imageDigest, d.imageTags]), [[a.digest, undefined]]);
    const tagged = await ecr.send(new DescribeImagesCommand({ repositoryName: 'mutable', filter: { tagStatus: 'TAGGED' } }));
    assert.deepEqual(tagged.imageDetails?.map((d) => d.imageDigest), [b.digest]);
    const listUntagged = await ecr.send(new ListImagesCommand({ repositoryName: 'mutable', filter: { tagStatus: 'UNTAGGED' } }));
    assert.deepEqual(listUntagged.imageIds, [{ imageDigest: a.digest }]);
  });

  test('image indexes: ReferencedImagesNotFoundException, then stored with children sizes', async () => {
    await createRepo('multi-arch');
    const amd = ociImage('amd');
    const arm = ociImage('arm');
    await pushImage('multi-arch', amd);
    const idx = index([amd, arm]);
    const e = await fault(ecr.send(new PutImageCommand({ repositoryName: 'multi-arch', imageManifest: idx, imageTag: 'v2' })),
      'ReferencedImagesNotFoundException');
    assert.ok(e.message.includes(arm.digest) && !e.message.includes(amd.digest));
    await pushImage('multi-arch', arm);
    const put = await ecr.send(new PutImageCommand({ repositoryName: 'multi-arch', imageManifest: idx, imageTag: 'v2' }));
    assert.equal(put.image?.imageManifestMediaType, MEDIA_TYPES.ociIndex);
    const d = await ecr.send(new DescribeImagesCommand({ repositoryName: 'multi-arch', imageIds: [{ imageTag: 'v2' }] }));
    assert.equal(d.imageDetails?.[0]?.imageSizeInBytes, amd.layer.length + arm.layer.length);
    assert.equal(d.imageDetails?.[0]?.imageManifestMediaType, MEDIA_TYPES.ociIndex);
    // A child listed by an index cannot be deleted alone.
    const del = await ecr.send(new BatchDeleteImageCommand({ repositoryName: 'multi-arch', imageIds: [{ imageDigest: amd.digest }] }));
    assert.deepEqual(del.imageIds, []);
    assert.equal(del.failures?.[0]?.failureCode, 'ImageReferencedByManifestList');
    assert.deepEqual(del.failures?.[0]?.imageId, { imageDigest: amd.digest });
    // An index whose entries are not manifests is refused.
    const bad = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(amd.layer), size: amd.layer.length }] });
    await fault(ecr.send(new PutImageCommand({ repositoryName: 'multi-arch', imageManifest: bad, imageTag: 'cache' })), 'InvalidParameterException', /not a manifest/);
  });

  test('Docker schema 2 manifests: artifactMediaType is the config media type', async () => {
    await createRepo('docker-v2');
    const img = ociImage('docker', MEDIA_TYPES.dockerManifest);
    await pushImage('docker-v2', img, 'latest');
    const d = (await ecr.send(new DescribeImagesCommand({ repositoryName: 'docker-v2' }))).imageDetails![0]!;
    assert.equal(d.imageManifestMediaType, MEDIA_TYPES.dockerManifest);
    assert.equal(d.artifactMediaType, 'application/vnd.docker.container.image.v1+json');
    const got = await ecr.send(new BatchGetImageCommand({
      repositoryName: 'docker-v2', imageIds: [{ imageTag: 'latest' }], acceptedMediaTypes: [MEDIA_TYPES.ociManifest],
    }));
    assert.deepEqual(got.images, []);
    assert.equal(got.failures?.[0]?.failureCode, 'ImageNotFound');
    const ok = await ecr.send(new BatchGetImageCommand({
      repositoryName: 'docker-v2', imageIds: [{ imageTag: 'latest' }], acceptedMediaTypes: [MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociManifest],
    }));
    assert.equal(ok.images?.[0]?.imageManifest, img.manifest);
  });

  test('BatchGetImage failures and DescribeImages ImageNotFoundException', async () => {
    await createRepo('lookups');
    const img = ociImage('lookups');
    await pushImage('lookups', img, 'v1');
    const other = sha256('other');
    const got = await ecr.send(new BatchGetImageCommand({
      repositoryName: 'lookups',
      imageIds: [{ imageTag: 'nope' }, { imageTag: 'v1', imageDigest: other }, {}, { imageDigest: 'bad' }, { imageDigest: other }],
    }));
    assert.deepEqual(got.images, []);
    assert.deepEqual(got.failures?.map((f) => [f.imageId, f.failureCode]), [
      [{ imageTag: 'nope' }, 'ImageNotFound'],
      [{ imageTag: 'v1', imageDigest: other }, 'ImageTagDoesNotMatchDigest'],
      [{}, 'MissingDigestAndTag'],
      [{ imageDigest: 'bad' }, 'InvalidImageDigest'],
      [{ imageDigest: other }, 'ImageNotFound'],
    ]);
    assert.equal(got.failures?.[0]?.failureReason, 'Requested image not found');
    await fault(ecr.send(new DescribeImagesCommand({ repositoryName: 'lookups', imageIds: [{ imageTag: 'nope' }] })), 'ImageNotFoundException',
      `The image with imageId {imageDigest:'null', imageTag:'nope'} does not exist within the repository with name 'lookups' in the registry with id '${ACCOUNT}'`);
    await fault(ecr.send(new BatchGetImageCommand({ repositoryName: 'nowhere', imageIds: [{ imageTag: 'v1' }] })), 'RepositoryNotFoundException');
    await fault(ecr.send(new DescribeImagesCommand({ repositoryName: 'nowhere' })), 'RepositoryNotFoundException');
    await fault(ecr.send(new ListImagesCommand({ repositoryName: 'nowhere' })), 'RepositoryNotFoundException');
    await fault(ecr.send(new BatchCheckLayerAvailabilityCommand({ repositoryName: 'nowhere', layerDigests: [other] })), 'RepositoryNotFoundException');
  });

  test('DescribeImages and ListImages paginate', async () => {
    await createRepo('paged-images');
    const imgs = [ociImage('p1'), ociImage('p2'), ociImage('p3')];
    for (const [i, img] of imgs.entries()) await pushImage('paged-images', img, `t${i}`);
    const seen: string[] = [];
    for await (const page of paginateDescribeImages({ client: ecr, pageSize: 1 }, { repositoryName: 'paged-images' })) {
      assert.ok((page.imageDetails?.length ?? 0) <= 1);
      seen.push(...(page.imageDetails ?? []).map((d) => d.imageDigest!));
    }
    assert.deepEqual(seen, imgs.map((i) => i.digest).sort());
    const ids: string[] = [];
    for await (const page of paginateListImages({ client: ecr, pageSize: 2 }, { repositoryName: 'paged-images' })) {
      ids.push(...(page.imageIds ?? []).map((i) => i.imageTag!));
    }
    assert.deepEqual(ids.sort(), ['t0', 't1', 't2']);
  });

  test('BatchDeleteImage: a tag untags, the last tag deletes, a digest deletes with its tags', async () => {
    await createRepo('deletes');
    const a = ociImage('del-a');
    const b = ociImage('del-b');
    await pushImage('deletes', a, 'a1');
    await ecr.send(new PutImageCommand({ repositoryName: 'deletes', imageManifest: a.manifest, imageTag: 'a2' }));
    await pushImage('deletes', b, 'b1');
    await ecr.send(new PutImageCommand({ repositoryName: 'deletes', imageManifest: b.manifest, imageTag: 'b2' }));
    const repo = world.state.repositories.deletes!;

    const r1 = await ecr.send(new BatchDeleteImageCommand({ repositoryName: 'deletes', imageIds: [{ imageTag: 'a1' }] }));
    assert.deepEqual(r1.imageIds, [{ imageDigest: a.digest, imageTag: 'a1' }]);
    assert.ok(repo.images[a.digest]);
    const r2 = await ecr.send(new BatchDeleteImageCommand({ repositoryName: 'deletes', imageIds: [{ imageTag: 'a2' }] }));
    assert.deepEqual(r2.imageIds, [{ imageDigest: a.digest, imageTag: 'a2' }]);
    assert.equal(repo.images[a.digest], undefined, 'removing the last tag deletes the image');

    const r3 = await ecr.send(new BatchDeleteImageCommand({
      repositoryName: 'deletes', imageIds: [{ imageDigest: b.digest }, { imageTag: 'gone' }, { imageDigest: 'sha256:zz' }],
    }));
    assert.deepEqual(r3.imageIds, [{ imageDigest: b.digest, imageTag: 'b1' }, { imageDigest: b.digest, imageTag: 'b2' }]);
    assert.deepEqual(r3.failures?.map((f) => f.failureCode), ['ImageNotFound', 'InvalidImageDigest']);
    assert.deepEqual(repo.images, {});
    assert.deepEqual(repo.tags, {});
    await fault(ecr.send(new BatchDeleteImageCommand({ repositoryName: 'nowhere', imageIds: [{ imageTag: 'x' }] })), 'RepositoryNotFoundException');
  });

  test('GetDownloadUrlForLayer: LayersNotFoundException, LayerInaccessibleException for unreferenced layers', async () => {
    await createRepo('downloads');
    await fault(ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'downloads', layerDigest: sha256('absent') })), 'LayersNotFoundException');
    const loose = await uploadLayer('downloads', Buffer.from('loose layer'));
    await fault(ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'downloads', layerDigest: loose })), 'LayerInaccessibleException',
      /not associated with an image/);
    await fault(ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: 'downloads', layerDigest: 'bad' })), 'InvalidParameterException');
  });
});

describe('authorization of an assumed role (seed permissions policy)', () => {
  let role: ECRClient;
  let arn: string;
  before(() => {
    const session = roleSession('ci-job', clock + HOUR);
    arn = session.principal.arn;
    role = client(session.accessKeyId, session.secretAccessKey, session.sessionToken);
  });
  after(() => role.destroy());

  const denied = (action: string, resource: string) =>
    `User: ${arn} is not authorized to perform: ecr:${action} on resource: ${resource} because no identity-based policy allows the ecr:${action} action`;
  const repoArn = (name: string) => `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/${name}`;

  test('the seed repository: describe (missing), create, push through the upload API', async () => {
    await fault(role.send(new DescribeRepositoriesCommand({ repositoryNames: [SEED.repository] })), 'RepositoryNotFoundException');
    const created = await role.send(new CreateRepositoryCommand({ repositoryName: SEED.repository }));
    assert.equal(created.repository?.repositoryName, SEED.repository);
    const desc = await role.send(new DescribeRepositoriesCommand({ repositoryNames: [SEED.repository] }));
    assert.equal(desc.repositories?.[0]?.repositoryUri, `${sandbox.registryHost}/${SEED.repository}`);
    const { uploadId } = await role.send(new InitiateLayerUploadCommand({ repositoryName: SEED.repository }));
    const bytes = Buffer.from('role layer');
    await role.send(new UploadLayerPartCommand({ repositoryName: SEED.repository, uploadId, partFirstByte: 0, partLastByte: bytes.length - 1, layerPartBlob: bytes }));
    await role.send(new CompleteLayerUploadCommand({ repositoryName: SEED.repository, uploadId, layerDigests: [sha256(bytes)] }));
    const check = await role.send(new BatchCheckLayerAvailabilityCommand({ repositoryName: SEED.repository, layerDigests: [sha256(bytes)] }));
    assert.equal(check.layers?.[0]?.layerAvailability, 'AVAILABLE');
    await role.send(new GetAuthorizationTokenCommand({}));
  });

  test('AccessDeniedException with AWS message, decided before existence', async () => {
    let e = await fault(role.send(new CreateRepositoryCommand({ repositoryName: 'other-repo' })), 'AccessDeniedException',
      denied('CreateRepository', repoArn('other-repo')));
    assert.equal(e.$fault, 'client');
    await fault(role.send(new DescribeRepositoriesCommand({ repositoryNames: ['other-repo'] })), 'AccessDeniedException',
      denied('DescribeRepositories', repoArn('other-repo')));
    e = await fault(role.send(new DescribeRepositoriesCommand({})), 'AccessDeniedException', denied('DescribeRepositories', repoArn('*')));
    await fault(role.send(new DescribeImagesCommand({ repositoryName: SEED.repository })), 'AccessDeniedException',
      denied('DescribeImages', repoArn(SEED.repository)));
    await fault(role.send(new DeleteRepositoryCommand({ repositoryName: SEED.repository, force: true })), 'AccessDeniedException',
      denied('DeleteRepository', repoArn(SEED.repository)));
    await fault(role.send(new BatchDeleteImageCommand({ repositoryName: SEED.repository, imageIds: [{ imageTag: 'x' }] })), 'AccessDeniedException');
    await fault(role.send(new PutAccountSettingCommand({ name: 'BLOB_MOUNTING', value: 'ENABLED' })), 'AccessDeniedException',
      denied('PutAccountSetting', '*'));
    await createRepo('other-repo');
    await fault(role.send(new PutImageCommand({ repositoryName: 'other-repo', imageManifest: '{}', imageTag: 'x' })), 'AccessDeniedException',
      denied('PutImage', repoArn('other-repo')));
    await fault(role.send(new InitiateLayerUploadCommand({ repositoryName: 'other-repo' })), 'AccessDeniedException');
  });

  test('a role without ecr:GetAuthorizationToken is refused on resource *', async () => {
    const policies = world.state.roles[SEED.roleName]!.inlinePolicies;
    const saved = { ...policies };
    const doc = JSON.parse(policies['ecr-push']!) as { Statement: { Sid: string }[] };
    doc.Statement = doc.Statement.filter((s) => s.Sid !== 'EcrLogin');
    policies['ecr-push'] = JSON.stringify(doc);
    try {
      await fault(role.send(new GetAuthorizationTokenCommand({})), 'AccessDeniedException', denied('GetAuthorizationToken', '*'));
    } finally {
      world.state.roles[SEED.roleName]!.inlinePolicies = saved;
    }
  });
});

describe('images.ts: the rules the registry shares', () => {
  test('manifestInfo validates and describes manifests and indexes', () => {
    const img = ociImage('info');
    const info = manifestInfo(Buffer.from(img.manifest));
    assert.equal(info.mediaType, MEDIA_TYPES.ociManifest);
    assert.equal(info.isIndex, false);
    assert.deepEqual(info.references, [sha256(img.config), sha256(img.layer)]);
    assert.deepEqual(info.layerSizes, { [sha256(img.config)]: img.config.length, [sha256(img.layer)]: img.layer.length });
    assert.equal(info.imageSize, img.layer.length);
    const idx = manifestInfo(Buffer.from(index([img])));
    assert.equal(idx.isIndex, true);
    assert.deepEqual(idx.references, [img.digest]);
    for (const [bytes, declared, reason] of [
      ['[]', undefined, /JSON object/],
      ['{"schemaVersion":2,"layers":[]}', undefined, /no mediaType/],
      [img.manifest, MEDIA_TYPES.dockerManifest, /does not match/],
      [JSON.stringify({ ...JSON.parse(img.manifest), schemaVersion: 1 }), undefined, /schemaVersion/],
      [JSON.stringify({ ...JSON.parse(img.manifest), layers: [{ mediaType: 'x', digest: 'sha256:12', size: 1 }] }), undefined, /digest/],
      [JSON.stringify({ ...JSON.parse(img.manifest), config: { mediaType: 'x', digest: sha256('c'), size: -1 } }), undefined, /size/],
      [' '.repeat(4_194_305), undefined, /larger than/],
    ] as const) {
      assert.throws(() => manifestInfo(Buffer.from(bytes), declared), (e: unknown) => e instanceof ManifestInvalid && reason.test(e.reason));
    }
  });

  test('putManifest: immutable tags refuse even the same digest (registry TAG_INVALID); untag and delete', async () => {
    const w = await World.open({ initial: () => seedWorld() });
    const repo = {
      name: 'r', arn: 'arn', registryId: ACCOUNT, createdAt: 0, tagMutability: 'IMMUTABLE' as const, scanOnPush: false,
      encryption: { encryptionType: 'AES256' as const }, images: {}, tags: {}, layers: {},
    };
    w.state.repositories.r = repo;
    const img = ociImage('unit');
    const bytes = Buffer.from(img.manifest);
    await assert.rejects(putManifest(w, repo, bytes, undefined, 'v1'), (e: unknown) => e instanceof ReferencesMissing && e.digests.length === 2 && !e.isIndex);
    for (const blob of [img.config, img.layer]) {
      const { digest, size } = await w.blobs.put(blob);
      (repo.layers as Record<string, number>)[digest] = size;
    }
    const first = await putManifest(w, repo, bytes, undefined, 'v1');
    assert.deepEqual([first.digest, first.created], [img.digest, true]);
    await assert.rejects(putManifest(w, repo, bytes, undefined, 'v1'),
      (e: unknown) => e instanceof TagImmutable && e.tag === 'v1' && e.existingDigest === img.digest);
    const again = await putManifest(w, repo, bytes, undefined, 'v2');
    assert.equal(again.created, false);
    assert.ok((await w.blobs.read(img.digest)).equals(bytes));
    assert.deepEqual(await untag(w, repo, 'v1'), { digest: img.digest, imageDeleted: false });
    assert.deepEqual(await untag(w, repo, 'v2'), { digest: img.digest, imageDeleted: true });
    assert.equal(await untag(w, repo, 'v2'), undefined);
    await putManifest(w, repo, bytes, undefined);
    assert.deepEqual(await deleteManifest(w, repo, img.digest), []);
    assert.deepEqual(repo.images, {});
  });
});

test('state persists: a world reopened from its directory keeps repositories, layers and images', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-ecr-'));
  try {
    const w1 = await World.open({ dir, initial: () => seedWorld() });
    const s1 = await startSandboxServer({ world: w1, port: 0 });
    const c1 = new ECRClient({
      endpoint: s1.url, region: REGION, maxAttempts: 1,
      credentials: { accessKeyId: w1.state.rootUser.accessKeyId, secretAccessKey: w1.state.rootUser.secretAccessKey },
    });
    const img = ociImage('persist');
    try {
      await c1.send(new CreateRepositoryCommand({ repositoryName: 'persisted' }));
      for (const blob of [img.config, img.layer]) {
        const { uploadId } = await c1.send(new InitiateLayerUploadCommand({ repositoryName: 'persisted' }));
        await c1.send(new UploadLayerPartCommand({ repositoryName: 'persisted', uploadId, partFirstByte: 0, partLastByte: blob.length - 1, layerPartBlob: blob }));
        await c1.send(new CompleteLayerUploadCommand({ repositoryName: 'persisted', uploadId, layerDigests: [sha256(blob)] }));
      }
      await c1.send(new PutImageCommand({ repositoryName: 'persisted', imageManifest: img.manifest, imageTag: 'v1' }));
    } finally {
      c1.destroy();
      await s1.close();
    }
    const w2 = await World.open({ dir, initial: () => { throw new Error('state.json should exist'); } });
    const repo = w2.state.repositories.persisted!;
    assert.equal(repo.tags.v1, img.digest);
    assert.equal(repo.layers[sha256(img.layer)], img.layer.length);
    assert.ok((await w2.blobs.read(img.digest)).equals(Buffer.from(img.manifest)));
    assert.ok((await w2.blobs.read(sha256(img.layer))).equals(img.layer));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
