// hoist credentials and hoist login: the two halves of the job for other tools, used by the
// real AWS CLI v2, the AWS SDK's web-identity provider, and the real docker CLI.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromTokenFile } from '@aws-sdk/credential-provider-web-identity';
import { awsCliV2, cleanEnv, run, runOk, skipUnless } from './support/components.ts';
import { publishBase, ROLE_ARN, sandboxToken } from './support/sandbox-admin.ts';
import { HOIST, startSandboxProcess, type SandboxProcess } from './support/sandbox-cli.ts';
import { exemptFile } from './support/secret-scan.ts';

function env(sb: SandboxProcess, token: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return cleanEnv({ AWS_REGION: 'ap-south-1', AWS_ROLE_ARN: ROLE_ARN, AWS_ID_TOKEN: token, AWS_ENDPOINT_URL: sb.url, CI_PIPELINE_ID: '77', ...extra });
}

const hoist = (args: string[], e: NodeJS.ProcessEnv, input?: string) =>
  run(process.execPath, [HOIST, ...args], { env: e, ...(input !== undefined ? { input } : {}) });

function parseEnvLines(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!.replace(/^'|'$/g, '')]));
}

describe('hoist credentials', () => {
  test('env lines that the AWS CLI v2 uses as the assumed role', async (t) => {
    if (await skipUnless(t, 'awscli')) return;
    const sb = await startSandboxProcess();
    t.after(() => sb.stop());
    const token = await sandboxToken(sb);
    const r = await hoist(['credentials'], env(sb, token));
    assert.equal(r.code, 0, r.stderr);
    const vars = parseEnvLines(r.stdout);
    assert.match(vars.AWS_ACCESS_KEY_ID!, /^ASIA/);
    for (const secret of [vars.AWS_SECRET_ACCESS_KEY!, vars.AWS_SESSION_TOKEN!, token]) assert.ok(!r.stderr.includes(secret), 'no secret on stderr');
    const id = await runOk(awsCliV2(), ['--endpoint-url', sb.url, 'sts', 'get-caller-identity'], { env: cleanEnv({ ...vars, AWS_EC2_METADATA_DISABLED: 'true' }) });
    assert.match(id.stdout, /assumed-role\/gitlab-runner-ecr-role\/gitlab-77/);
  });

  test('json and profile formats', async (t) => {
    const sb = await startSandboxProcess();
    t.after(() => sb.stop());
    const json = await hoist(['credentials', '--format', 'json'], env(sb, await sandboxToken(sb)));
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout) as Record<string, unknown>;
    assert.equal(doc.Version, 1);
    assert.match(String(doc.Expiration), /^\d{4}-\d\d-\d\dT/);
    const profile = await hoist(['credentials', '--format', 'profile', '--profile', 'ci'], env(sb, await sandboxToken(sb)));
    assert.match(profile.stdout, /^\[ci\]\naws_access_key_id = ASIA/);
    const bad = await hoist(['credentials', '--format', 'yaml'], env(sb, 'x'));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--format must be env, json or profile/);
  });

  test('--token-file writes a 0600 token the AWS SDK assumes the role with by itself', async (t) => {
    const sb = await startSandboxProcess();
    t.after(() => sb.stop());
    const token = await sandboxToken(sb);
    const file = join(mkdtempSync(join(tmpdir(), 'hoist-wi-')), 'private', 'token');
    const r = await hoist(['credentials', '--token-file', file], env(sb, token));
    assert.equal(r.code, 0, r.stderr);
    exemptFile(file, 'hoist credentials --token-file writes the ID token there by design');
    const vars = parseEnvLines(r.stdout);
    assert.equal(vars.AWS_WEB_IDENTITY_TOKEN_FILE, file);
    assert.equal(vars.AWS_ROLE_ARN, ROLE_ARN);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(dirname(file)).mode & 0o777, 0o700);
    assert.ok(!r.stdout.includes(token) && !r.stderr.includes(token));
    const provider = fromTokenFile({
      webIdentityTokenFile: file, roleArn: vars.AWS_ROLE_ARN!, roleSessionName: vars.AWS_ROLE_SESSION_NAME!,
      clientConfig: { endpoint: sb.url, region: 'ap-south-1' },
    });
    const sts = new STSClient({ endpoint: sb.url, region: 'ap-south-1', credentials: provider });
    const id = await sts.send(new GetCallerIdentityCommand({}));
    assert.match(id.Arn!, /assumed-role\/gitlab-runner-ecr-role\/gitlab-77/);
  });
});

describe('hoist login', { timeout: 300_000 }, () => {
  test('config.json, credential helper and --print-password each let docker pull from ECR', async (t) => {
    if (await skipUnless(t, 'docker-unix', 'awscli')) return;
    const sb = await startSandboxProcess();
    t.after(() => sb.stop());
    const base = await publishBase(sb);

    const cfg = mkdtempSync(join(tmpdir(), 'hoist-login-'));
    const stored = await hoist(['login', '--docker-config', cfg], env(sb, await sandboxToken(sb)));
    assert.equal(stored.code, 0, stored.stderr);
    assert.equal(stored.stdout.trim(), sb.registry);
    assert.equal(statSync(join(cfg, 'config.json')).mode & 0o777, 0o600);
    exemptFile(join(cfg, 'config.json'), 'hoist login --docker-config stores the ECR password there by design');
    await runOk('docker', ['--config', cfg, 'pull', base], { env: cleanEnv(), timeoutMs: 120_000 });

    // The helper mints a fresh token per call, from the job's own variables.
    const helperCfg = mkdtempSync(join(tmpdir(), 'hoist-helper-'));
    const bin = join(helperCfg, 'bin');
    mkdirSync(bin);
    symlinkSync(join(dirname(HOIST), 'docker-credential-hoist.js'), join(bin, 'docker-credential-hoist'));
    const jobEnv = env(sb, await sandboxToken(sb, ['--expires-in', '600']));
    const registered = await hoist(['login', '--credential-helper', '--docker-config', helperCfg], jobEnv);
    assert.equal(registered.code, 0, registered.stderr);
    const conf = JSON.parse(readFileSync(join(helperCfg, 'config.json'), 'utf8'));
    assert.deepEqual(conf.credHelpers, { [sb.registry]: 'hoist' });
    assert.equal(conf.auths?.[sb.registry], undefined, 'no static password stored');
    await run('docker', ['rmi', base], { env: cleanEnv() });
    const pathWithHelper = `${bin}:${process.env.PATH}`;
    await runOk('docker', ['--config', helperCfg, 'pull', base], { env: { ...jobEnv, PATH: pathWithHelper }, timeoutMs: 120_000 });

    const pw = await hoist(['login', '--print-password'], env(sb, await sandboxToken(sb)));
    assert.equal(pw.code, 0, pw.stderr);
    const plain = mkdtempSync(join(tmpdir(), 'hoist-pipe-'));
    const dl = await runOk('docker', ['--config', plain, 'login', '--username', 'AWS', '--password-stdin', sb.registry], { env: cleanEnv(), input: pw.stdout });
    assert.match(dl.stdout, /Login Succeeded/);
    exemptFile(join(plain, 'config.json'), 'docker login --password-stdin, fed by hoist login --print-password, stores the password there');
    await run('docker', ['rmi', base], { env: cleanEnv() });
  });
});
