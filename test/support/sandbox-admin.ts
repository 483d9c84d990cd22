// What an account admin does to a sandbox before a job runs: AWS CLI v2 calls with the root
// keys, a base image published to the sandbox registry, ID tokens from its issuer.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDockerBaseImage } from './base-image.ts';
import { awsCliV2, cleanEnv, runOk } from './components.ts';
import { HOIST, type SandboxProcess } from './sandbox-cli.ts';
import { registerSecret } from './secret-scan.ts';

export const ROLE = 'gitlab-runner-ecr-role';
export const ROLE_ARN = `arn:aws:iam::831955480324:role/${ROLE}`;
export const BASE_IMAGE = 'hoist-test/busybox:latest';

export function adminEnv(sb: SandboxProcess, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return cleanEnv({
    AWS_ACCESS_KEY_ID: sb.exports.AWS_ACCESS_KEY_ID!,
    AWS_SECRET_ACCESS_KEY: sb.exports.AWS_SECRET_ACCESS_KEY!,
    AWS_REGION: sb.exports.AWS_REGION!,
    AWS_DEFAULT_REGION: sb.exports.AWS_REGION!,
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  });
}

export const admin = (sb: SandboxProcess, args: string[], input?: string) =>
  runOk(awsCliV2(), ['--endpoint-url', sb.url, ...args], { env: adminEnv(sb), ...(input ? { input } : {}) });

export async function sandboxToken(sb: SandboxProcess, args: string[] = []): Promise<string> {
  const r = await runOk(process.execPath, [HOIST, 'sandbox', 'token', '--endpoint', sb.url, ...args]);
  const token = r.stdout.trim();
  registerSecret(token, 'ID token');
  return token;
}

export async function putRolePolicy(sb: SandboxProcess, name: string, statements: object[]): Promise<void> {
  await admin(sb, ['iam', 'put-role-policy', '--role-name', ROLE, '--policy-name', name,
    '--policy-document', JSON.stringify({ Version: '2012-10-17', Statement: statements })]);
}

/** Puts the base image into the sandbox registry (as the account admin would) and lets the role pull it. */
export async function publishBase(sb: SandboxProcess): Promise<string> {
  await ensureDockerBaseImage(BASE_IMAGE);
  const ref = `${sb.registry}/base/busybox:1`;
  const dockerConfig = mkdtempSync(join(tmpdir(), 'hoist-admin-docker-'));
  const env = cleanEnv({ DOCKER_CONFIG: dockerConfig });
  await admin(sb, ['ecr', 'create-repository', '--repository-name', 'base/busybox']);
  const password = (await admin(sb, ['ecr', 'get-login-password'])).stdout.trim();
  try {
    await runOk('docker', ['login', '--username', 'AWS', '--password-stdin', sb.registry], { env, input: password });
    await runOk('docker', ['tag', BASE_IMAGE, ref], { env });
    await runOk('docker', ['push', ref], { env, timeoutMs: 120_000 });
    await runOk('docker', ['rmi', ref], { env });
  } finally {
    // The admin's docker login stored the ECR password here; it is the harness's, not hoist's.
    rmSync(dockerConfig, { recursive: true, force: true });
  }
  await putRolePolicy(sb, 'pull-base', [{
    Effect: 'Allow',
    Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
    Resource: 'arn:aws:ecr:ap-south-1:831955480324:repository/base/busybox',
  }]);
  return ref;
}
