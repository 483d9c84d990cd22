// `hoist demo` / `npm run demo`: the seed's job rehearsed end to end against an in-process
// sandbox. Each step is the library call `hoist push` makes; the report says what each cost.

import { assumeRoleWithWebIdentity, getCallerIdentity, sessionName } from '../aws/sts.ts';
import { ensureRepository, getRegistryLogin } from '../aws/ecr.ts';
import { checkLogin } from '../registry/ping.ts';
import { SEED } from '../sandbox/index.ts';
import { requestSandboxToken, startSandbox } from './sandbox.ts';
import { stepper, type StepRecord } from './steps.ts';

export type StepReport = StepRecord;

export interface RehearsalReport {
  endpoint: string;
  registry: string;
  repositoryUri: string;
  steps: StepReport[];
}

export interface RehearsalOptions {
  repository?: string;
  pipelineId?: string;
  onStep?: (s: StepReport) => void;
}

export async function rehearse(opts: RehearsalOptions = {}): Promise<RehearsalReport> {
  const { steps, run: timed } = stepper((e) => {
    if (e.phase === 'end') opts.onStep?.({ step: e.step, ms: e.ms ?? 0, detail: e.detail ?? '' });
  });
  const sandbox = await timed('sandbox', () => startSandbox({ port: 0 }), (s) => `AWS stand-in on ${s.url} (account ${s.world.state.accountId}, ${s.world.state.region})`);
  try {
    const target = { region: sandbox.world.state.region, endpoint: sandbox.url };
    const token = await timed('id-token', () => requestSandboxToken(sandbox.url, {}), () => `GitLab-style ID token for ${SEED.projectPath} on master, aud ${SEED.audience}`);
    const roleArn = `arn:aws:iam::${sandbox.world.state.accountId}:role/${SEED.roleName}`;
    const role = await timed('assume-role', () => assumeRoleWithWebIdentity(target, {
      roleArn, sessionName: sessionName(`gitlab-${opts.pipelineId ?? '1'}`), token,
    }), (r) => `AssumeRoleWithWebIdentity → credentials until ${r.credentials.expiration.toISOString()}`);
    await timed('caller-identity', () => getCallerIdentity(target, role.credentials), (id) => id.arn);
    const login = await timed('ecr-login', async () => {
      const l = await getRegistryLogin(target, role.credentials);
      await checkLogin(l);
      return l;
    }, (l) => `GetAuthorizationToken → registry ${l.registry} accepts the login (expires ${l.expiresAt.toISOString()})`);
    const name = opts.repository ?? SEED.repository;
    const repo = await timed('repository', () => ensureRepository(target, role.credentials, name, { create: true }),
      (r) => `${r.created ? 'created' : 'found'} ${r.uri}`);
    return { endpoint: sandbox.url, registry: login.registry, repositoryUri: repo.uri, steps };
  } finally {
    await sandbox.close();
  }
}
