// The CLI as a user meets it: the built bundle, its help, its errors and exit codes.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { decodeJwt } from '../src/model/jwt.ts';
import { cleanEnv, run } from './support/components.ts';
import { HOIST, startSandboxProcess } from './support/sandbox-cli.ts';

const hoist = (args: string[], env: Record<string, string> = {}) => run(process.execPath, [HOIST, ...args], { env: cleanEnv(env) });

test('--version and --help answer fast and on stdout', async () => {
  const v = await hoist(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^hoist \d+\.\d+\.\d+/);
  const h = await hoist(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /sandbox/);
  assert.match(h.stdout, /Exit codes/);
});

test('an unknown command or flag exits 2 and names it', async () => {
  const c = await hoist(['pusj']);
  assert.equal(c.code, 2);
  assert.match(c.stderr, /unknown command "pusj"/);
  const f = await hoist(['sandbox', '--prot', '1']);
  assert.equal(f.code, 2);
  assert.match(f.stderr, /--prot/);
  assert.match(f.stderr, /hoist sandbox --help/);
});

test('copy --compressor: a name it does not know, or igzip where there is none, exits 2 naming the flag', async () => {
  const bad = await hoist(['copy', '--compressor', 'fast', 'docker-daemon:x', 'oci:/nonexistent/x']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--compressor: "fast" is not one of auto, zlib, igzip/);
  const none = await hoist(['copy', '--compressor', 'igzip', 'docker-daemon:x', 'oci:/nonexistent/x'], { PATH: '/nonexistent' });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /--compressor igzip: no igzip on PATH/);
  assert.match(none.stderr, /apt-get install isal/);
  const help = await hoist(['copy', '--help']);
  assert.match(help.stdout, /--compressor C/);
});

test('every command has --help', async () => {
  for (const cmd of ['push', 'build', 'credentials', 'login', 'copy', 'promote', 'doctor', 'init', 'bootstrap', 'sandbox', 'demo']) {
    const r = await hoist([cmd, '--help']);
    assert.equal(r.code, 0, cmd);
    assert.match(r.stdout, new RegExp(`Usage: hoist ${cmd}`));
  }
});

test('sandbox --world reports every problem of a bad world file with its JSON path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-world-'));
  const file = join(dir, 'world.json');
  writeFileSync(file, JSON.stringify({ accountId: '123', region: 'mars', roles: [{ name: 'bad name!', trustPolicy: 3 }] }));
  const r = await hoist(['sandbox', '--port', '0', '--world', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /accountId: "123" is not a 12-digit AWS account ID/);
  assert.match(r.stderr, /region: "mars" is not an AWS region/);
  assert.match(r.stderr, /roles\[0\]\.name/);
  assert.match(r.stderr, /roles\[0\]\.trustPolicy/);
});

test('sandbox prints its exports; sandbox token mints a GitLab-shaped token', async (t) => {
  const sb = await startSandboxProcess();
  t.after(() => sb.stop());
  assert.match(sb.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(sb.exports.AWS_REGION, 'ap-south-1');
  const r = await hoist(['sandbox', 'token', '--project-path', 'g/p', '--ref', 'v1.2.3', '--ref-type', 'tag', '--claim', 'ref_protected=false'], { AWS_ENDPOINT_URL: sb.url });
  assert.equal(r.code, 0, r.stderr);
  const { claims, header } = decodeJwt(r.stdout.trim());
  assert.equal(header.alg, 'RS256');
  assert.equal(claims.sub, 'project_path:g/p:ref_type:tag:ref:v1.2.3');
  assert.equal(claims.iss, 'https://gitlab.com');
  assert.equal(claims.aud, 'sts.amazonaws.com');
  assert.equal(claims.ref_protected, 'false');
  assert.equal(claims.namespace_path, 'g');
  for (const k of ['project_id', 'namespace_id', 'pipeline_id', 'job_id', 'user_login', 'jti', 'iat', 'nbf', 'exp', 'pipeline_source']) {
    assert.ok(k in claims, `claim ${k}`);
  }
  assert.equal((claims.exp as number) - (claims.iat as number), 300);
  const disc = await (await fetch(`${sb.url}/.well-known/openid-configuration`)).json() as { issuer: string; jwks_uri: string };
  assert.equal(disc.issuer, 'https://gitlab.com');
  const keys = await (await fetch(disc.jwks_uri)).json() as { keys: { kid: string }[] };
  assert.equal(keys.keys[0]?.kid, header.kid);
});

test('sandbox token without a sandbox says how to start one', async () => {
  const r = await hoist(['sandbox', 'token', '--endpoint', 'http://127.0.0.1:9']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no sandbox answers at http:\/\/127\.0\.0\.1:9/);
  assert.match(r.stderr, /fix: Start one with `hoist sandbox`/);
});

test('npm run demo: the whole job with only Node — no docker on PATH, no engine — and no secret printed', async () => {
  const nodeOnly = mkdtempSync(join(tmpdir(), 'hoist-node-only-'));
  symlinkSync(process.execPath, join(nodeOnly, 'node'));
  const r = await run(process.execPath, [HOIST, 'demo'], { env: cleanEnv({ PATH: nodeOnly }), cwd: resolve(import.meta.dirname, '..') });
  assert.equal(r.code, 0, r.stderr);
  for (const step of ['sandbox', 'base-image', 'id-token', 'push:engine', 'push:assume-role', 'push:ecr-login', 'push:repository', 'push:build', 'push:push', 'push:verify', 'read-back']) {
    assert.match(r.stderr, new RegExp(`✔ ${step} `));
  }
  assert.match(r.stderr, /push:engine .*native/);
  assert.match(r.stderr, /assumed-role\/gitlab-runner-ecr-role\/gitlab-1/);
  const digest = /^digest +(sha256:[a-f0-9]{64})/m.exec(r.stdout)?.[1];
  assert.ok(digest, r.stdout);
  assert.match(r.stdout, new RegExp(`^image +127\\.0\\.0\\.1:\\d+/order-microservice:3\\.0\\.0@${digest}$`, 'm'));
  assert.match(r.stdout, /1 mounted from the base/);
  assert.doesNotMatch(r.stdout + r.stderr, /eyJ|ASIA[A-Z2-7]{16}|Warning|NodeVersionSupport/);
});

test('hoist build is reproducible: the same inputs give the same digest', async () => {
  const ctx = mkdtempSync(join(tmpdir(), 'hoist-build-'));
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\nCMD ["/hello"]\n');
  writeFileSync(join(ctx, 'hello.txt'), 'hello\n');
  const a = await hoist(['build', '--context', ctx, '--output', `oci:${join(ctx, 'a')}:v1`], { SOURCE_DATE_EPOCH: '1700000000' });
  const b = await hoist(['build', '--context', ctx, '--output', `oci:${join(ctx, 'b')}:v1`], { SOURCE_DATE_EPOCH: '1700000000' });
  assert.equal(a.code, 0, a.stderr);
  const digest = (out: string) => /@(sha256:[a-f0-9]{64})$/m.exec(out)?.[1];
  assert.ok(digest(a.stdout));
  assert.equal(digest(a.stdout), digest(b.stdout));
  const c = await hoist(['build', '--context', ctx, '--output', `oci:${join(ctx, 'c')}:v1`], { SOURCE_DATE_EPOCH: '1' });
  assert.notEqual(digest(c.stdout), digest(a.stdout), 'SOURCE_DATE_EPOCH is part of the input');
});

test('sandbox --log writes one JSON line per request and no secret', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-log-'));
  const logFile = join(dir, 'requests.jsonl');
  const sb = await startSandboxProcess(['--log', logFile]);
  t.after(() => sb.stop());
  const token = (await hoist(['sandbox', 'token', '--endpoint', sb.url])).stdout.trim();
  const form = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15', RoleSessionName: 'gitlab-1', WebIdentityToken: token,
    RoleArn: 'arn:aws:iam::831955480324:role/gitlab-runner-ecr-role',
  });
  const res = await fetch(sb.url, { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const xml = await res.text();
  assert.equal(res.status, 200, xml);
  const secret = /<SecretAccessKey>([^<]+)</.exec(xml)![1]!;
  const session = /<SessionToken>([^<]+)</.exec(xml)![1]!;
  await sb.stop();
  const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const sts = lines.find((l) => l.action === 'AssumeRoleWithWebIdentity');
  assert.ok(sts, 'the STS call is logged');
  assert.equal(sts.status, 200);
  assert.equal(sts.service, 'sts');
  const text = readFileSync(logFile, 'utf8');
  for (const s of [token, secret, session, sb.exports.AWS_SECRET_ACCESS_KEY!]) assert.ok(!text.includes(s), 'a secret reached the request log');
});
