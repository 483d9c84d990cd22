// hoist's registry client held to the sandbox's ECR registry (mount on and off, Basic auth with
// the ECR token) and to the real CNCF distribution registry (htpasswd Basic auth).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { CreateRepositoryCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { Secret } from '../src/model/secret.ts';
import { SEED, seedWorld } from '../src/sandbox/defaults.ts';
import { startSandboxServer } from '../src/sandbox/server.ts';
import { World } from '../src/sandbox/state.ts';
import { clientConformance } from './support/client-conformance.ts';
import { startCncfRegistry } from './support/cncf-registry.ts';
import { requireComponent } from './support/components.ts';
import { watchWorld } from './support/secret-scan.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

async function sandbox(blobMounting: boolean): Promise<void> {
  const world = await World.open({ initial: () => seedWorld() });
  world.state.settings.blobMounting = blobMounting;
  const sb = await startSandboxServer({ world, port: 0 });
  watchWorld(world);
  const root = world.state.rootUser;
  const ecr = new ECRClient({ endpoint: sb.url, region: SEED.region, maxAttempts: 1, credentials: { accessKeyId: root.accessKeyId, secretAccessKey: root.secretAccessKey } });
  after(async () => {
    ecr.destroy();
    await sb.close();
  });
  const out = await ecr.send(new GetAuthorizationTokenCommand({}));
  const [username, password] = Buffer.from(out.authorizationData![0]!.authorizationToken!, 'base64').toString().split(':');
  clientConformance({
    name: `sandbox ECR registry, BLOB_MOUNTING ${blobMounting ? 'ENABLED' : 'DISABLED'}`,
    host: new URL(sb.url).host, credentials: { username: username!, password: new Secret(password!) },
    repo: 'client/app', mount: blobMounting, tagPagination: true,
    setupRepo: async (name) => void (await ecr.send(new CreateRepositoryCommand({ repositoryName: name }))),
  });
}

await sandbox(true);
await sandbox(false);

const missing = await requireComponent('docker-registry', 'htpasswd').catch((err: unknown) => {
  test('hoist registry client conformance: CNCF registry', () => {
    throw err;
  });
  return 'failed above';
});
if (missing === undefined) {
  const registry = await startCncfRegistry({ auth: 'basic' });
  after(() => registry.stop());
  const user = registry.users![0]!;
  assert.ok(user);
  clientConformance({
    name: 'CNCF distribution registry (Basic auth)', host: registry.host,
    credentials: { username: user.username, password: new Secret(user.password) },
    repo: 'client/app', mount: true, tagPagination: false,
  });
}
