// A `hoist push` job as GitLab would run it: the example app, the seed's variables and
// GitLab's predefined ones, and the built CLI.

import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cleanEnv, run } from './components.ts';
import { ROLE_ARN } from './sandbox-admin.ts';
import { HOIST, type SandboxProcess } from './sandbox-cli.ts';

const APP = resolve(import.meta.dirname, '..', 'fixtures', 'seed-app');

export function appDir(sb: SandboxProcess): string {
  const work = mkdtempSync(join(tmpdir(), 'hoist-push-app-'));
  cpSync(APP, work, { recursive: true });
  writeFileSync(join(work, 'Dockerfile'), readFileSync(join(work, 'Dockerfile.in'), 'utf8').replace('@BASE@', `${sb.registry}/base/busybox:1`));
  return work;
}

/** The seed's variables and GitLab's predefined ones for a push to master. */
export function jobEnv(sb: SandboxProcess, token: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return cleanEnv({
    AWS_ACCOUNT_ID: '831955480324',
    AWS_REGION: 'ap-south-1',
    AWS_ROLE_ARN: ROLE_ARN,
    ECR_REPOSITORY: 'order-microservice',
    IMAGE_TAG: '3.0.0',
    AWS_ID_TOKEN: token,
    AWS_ENDPOINT_URL: sb.url,
    DOCKER_HOST: 'unix:///var/run/docker.sock',
    CI: 'true',
    GITLAB_CI: 'true',
    CI_PIPELINE_ID: '4242',
    CI_PIPELINE_CREATED_AT: '2026-11-24T08:00:00Z',
    CI_COMMIT_SHA: 'c0ffee0000000000000000000000000000000001',
    CI_COMMIT_SHORT_SHA: 'c0ffee00',
    CI_COMMIT_REF_NAME: 'master',
    CI_COMMIT_REF_SLUG: 'master',
    CI_COMMIT_BRANCH: 'master',
    CI_DEFAULT_BRANCH: 'master',
    CI_PROJECT_URL: 'https://gitlab.com/mygroup/myrepo',
    CI_PROJECT_NAME: 'myrepo',
    CI_PROJECT_PATH: 'mygroup/myrepo',
    CI_JOB_NAME: 'build-and-push',
    ...extra,
  });
}

export function hoistPush(cwd: string, env: NodeJS.ProcessEnv, args: string[] = []) {
  return run(process.execPath, [HOIST, 'push', ...args], { cwd, env, timeoutMs: 300_000 });
}

