// `hoist demo` / `npm run demo`: hoist's whole job rehearsed against an in-process sandbox
// with nothing but Node: the account admin publishes a base image, a GitLab-style ID token is
// minted, and the real `push()` runs with the daemonless native builder on the example order
// service. The manifest is read back from ECR; the report says what each step cost.

import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureRepository, getRegistryLogin, imageForTag } from '../aws/ecr.ts';
import type { AwsCredentials } from '../aws/clients.ts';
import { assumeRoleWithWebIdentity } from '../aws/sts.ts';
import { copyImage } from '../image/copy.ts';
import { openOciLayoutSource } from '../image/oci-layout.ts';
import { RegistryClient } from '../registry/client.ts';
import { registrySink } from '../registry/transports.ts';
import { SEED } from '../sandbox/index.ts';
import { buildImage } from './build.ts';
import { NativePushBuilder } from './native-push.ts';
import { planPush } from './push-plan.ts';
import { push, type PushOutcome } from './push.ts';
import { requestSandboxToken, startSandbox, type Sandbox } from './sandbox.ts';
import { stepper, type StepRecord } from './steps.ts';

export type StepReport = StepRecord;

export interface RehearsalReport {
  endpoint: string;
  registry: string;
  imageUri: string;
  digest: string;
  manifestMediaType: string;
  layers: number;
  push: Pick<PushOutcome, 'repositoryCreated' | 'layers'>;
  steps: StepReport[];
}

export interface RehearsalOptions {
  /** The example service to build (a directory with a Dockerfile without RUN). */
  example: string;
  tag?: string;
  onStep?: (s: StepReport) => void;
}

const BASE_REPO = 'base/runtime';

export async function rehearse(opts: RehearsalOptions): Promise<RehearsalReport> {
  const { steps, run: timed } = stepper((e) => {
    if (e.phase === 'end') opts.onStep?.({ step: e.step, ms: e.ms ?? 0, detail: e.detail ?? '' });
  });
  const sandbox = await timed('sandbox', () => startSandbox({ port: 0 }), (s) => `AWS stand-in on ${s.url} (account ${s.world.state.accountId}, ${s.world.state.region}, ECR blob mounting on)`);
  const work = await mkdtemp(join(tmpdir(), 'hoist-demo-'));
  try {
    const base = await timed('base-image', () => publishBase(sandbox, work), (ref) => `the admin published ${ref} (built natively) and let the role pull it`);
    const token = await timed('id-token', () => requestSandboxToken(sandbox.url, {}), () => `GitLab-style ID token for ${SEED.projectPath} on master, aud ${SEED.audience}`);
    const tag = opts.tag ?? '3.0.0';
    const plan = planPush({ env: jobEnv(sandbox, token, tag), flags: { context: opts.example, buildArg: [`BASE=${base}`] } });
    const outcome = await push(plan, {
      builder: new NativePushBuilder({ sourceDateEpoch: 1_700_000_000, tmpDir: work }),
      onStep: (e) => {
        if (e.phase === 'end') {
          const s = { step: `push:${e.step}`, ms: e.ms ?? 0, detail: e.detail ?? '' };
          steps.push(s);
          opts.onStep?.(s);
        }
      },
    });
    const stored = await timed('read-back', () => readBack(sandbox, plan.config.aws.roleArn.arn, token, tag), (m) => `ECR holds ${m.digest} (${m.mediaType})`);
    return {
      endpoint: sandbox.url, registry: outcome.registry, imageUri: `${outcome.tags[0]!.ref}@${outcome.digest}`, digest: stored.digest,
      manifestMediaType: stored.mediaType, layers: (JSON.parse(stored.manifest) as { layers: unknown[] }).layers.length,
      push: { repositoryCreated: outcome.repositoryCreated, layers: outcome.layers }, steps,
    };
  } finally {
    await sandbox.close();
    await rm(work, { recursive: true, force: true });
  }
}

/** The seed's variables and GitLab's predefined ones, as a job on master would have them. */
function jobEnv(sandbox: Sandbox, token: string, tag: string): Record<string, string> {
  const s = sandbox.world.state;
  return {
    AWS_ACCOUNT_ID: s.accountId, AWS_REGION: s.region, AWS_ROLE_ARN: `arn:aws:iam::${s.accountId}:role/${SEED.roleName}`,
    ECR_REPOSITORY: SEED.repository, IMAGE_TAG: tag, AWS_ID_TOKEN: token, AWS_ENDPOINT_URL: sandbox.url,
    GITLAB_CI: 'true', CI_PIPELINE_ID: '1', CI_PIPELINE_CREATED_AT: '2026-01-01T00:00:00Z', CI_COMMIT_SHA: '0'.repeat(40),
    CI_COMMIT_SHORT_SHA: '00000000', CI_COMMIT_BRANCH: 'master', CI_COMMIT_REF_NAME: 'master', CI_COMMIT_REF_SLUG: 'master',
    CI_DEFAULT_BRANCH: 'master', CI_PROJECT_URL: `https://gitlab.com/${SEED.projectPath}`, CI_PROJECT_NAME: 'myrepo',
  };
}

const rootCredentials = (sandbox: Sandbox): AwsCredentials => ({
  accessKeyId: sandbox.world.state.rootUser.accessKeyId, secretAccessKey: sandbox.world.state.rootUser.secretAccessKey,
});

/**
 * What the account admin does before the first job: build a small runtime base natively,
 * push it to `base/runtime`, let the role pull it, and turn ECR blob mounting on so jobs
 * mount its layers instead of downloading them.
 */
async function publishBase(sandbox: Sandbox, work: string): Promise<string> {
  const target = { region: sandbox.world.state.region, endpoint: sandbox.url };
  const ctx = join(work, 'base');
  await mkdir(join(ctx, 'etc'), { recursive: true });
  await writeFile(join(ctx, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000:node:/home/node:/bin/sh\n');
  await writeFile(join(ctx, 'etc', 'group'), 'root:x:0:\nnode:x:1000:\n');
  await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY etc/ /etc/\nENV PATH=/usr/local/bin:/usr/bin:/bin\n');
  await buildImage({ context: ctx, outputDir: join(work, 'base-oci'), tags: ['1'], buildArgs: {}, labels: {}, sourceDateEpoch: 0 });
  await ensureRepository(target, rootCredentials(sandbox), BASE_REPO, { create: true });
  const login = await getRegistryLogin(target, rootCredentials(sandbox));
  const client = new RegistryClient({ credentials: { [login.registry]: { username: login.username, password: login.password } } });
  try {
    await copyImage(await openOciLayoutSource(join(work, 'base-oci'), '1'), registrySink(client.repository(login.registry, BASE_REPO), BASE_REPO), { tag: '1' });
  } finally {
    client.close();
  }
  const state = sandbox.world.state;
  state.settings.blobMounting = true;
  state.roles[SEED.roleName]!.inlinePolicies['pull-base'] = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
      Resource: `arn:aws:ecr:${state.region}:${state.accountId}:repository/${BASE_REPO}` }],
  });
  await sandbox.world.commit();
  return `${login.registry}/${BASE_REPO}:1`;
}

/** Reads the pushed manifest back with a fresh session, as a deploy job would. */
async function readBack(sandbox: Sandbox, roleArn: string, token: string, tag: string) {
  const target = { region: sandbox.world.state.region, endpoint: sandbox.url };
  const role = await assumeRoleWithWebIdentity(target, { roleArn, sessionName: 'hoist-demo-verify', token });
  const image = await imageForTag(target, role.credentials, SEED.repository, tag);
  if (!image) throw new Error(`ECR has no ${SEED.repository}:${tag} after the push`);
  return image;
}
