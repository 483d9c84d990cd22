// DockerBuilder orchestration against a scripted runner (no engine): which commands run in
// which order, with which env and stdin; retries; the private DOCKER_CONFIG's lifecycle.
// The real engine is exercised in build-docker-engine.test.ts.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { createDockerBuilder, type DockerBuilderOptions } from '../src/build/docker.ts';
import { isHoistError } from '../src/errors.ts';
import { recordingRunner, type ExecRequest, type ExecResult } from '../src/exec/index.ts';
import { Secret } from '../src/model/secret.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'docker-output');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');
const PASSWORD = 'ecr-Password+/with=specials';
const scratch = mkdtempSync(join(tmpdir(), 'hoist-docker-builder-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

type Reply = Partial<ExecResult> | ((req: ExecRequest) => Partial<ExecResult> | Promise<Partial<ExecResult>>);

/** A runner that answers by docker subcommand; a list of replies is used in order, the last one repeats. */
function scripted(replies: Record<string, Reply | Reply[]>) {
  const seen: Record<string, number> = {};
  const runner = async (req: ExecRequest): Promise<ExecResult> => {
    const sub = req.args[0] === 'buildx' ? 'buildx' : req.args[0]!;
    const n = (seen[sub] = (seen[sub] ?? 0) + 1);
    const list = replies[sub];
    const reply = Array.isArray(list) ? list[Math.min(n, list.length) - 1] : list;
    const r = typeof reply === 'function' ? await reply(req) : (reply ?? { code: 1, stderr: `unscripted: docker ${sub}` });
    const res: ExecResult = { code: 0, stdout: '', stderr: '', durationMs: 1, truncated: false, ...r };
    for (const line of res.stdout.split('\n')) if (line) req.onLine?.(line, 'stdout');
    return res;
  };
  return recordingRunner(runner);
}

const version28 = { stdout: fixture('version-ok.json') };
const version2010 = { stdout: fixture('version-ok.json').replace('"Version":"28.2.2"', '"Version":"20.10.24+dfsg1"') };
const noBuildx = { code: 1, stderr: "docker: 'buildx' is not a docker command." };
const info = { stdout: '{"Driver":"overlay2","Warnings":[]}' };

/** What `docker login` does to DOCKER_CONFIG/config.json on success. */
function fakeLogin(req: ExecRequest): Partial<ExecResult> {
  const file = join(req.env.DOCKER_CONFIG!, 'config.json');
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { auths: Record<string, unknown> };
  doc.auths[req.args[req.args.length - 1]!] = { auth: Buffer.from(`AWS:${String(req.stdin)}`).toString('base64') };
  writeFileSync(file, JSON.stringify(doc));
  return { stdout: 'Login Succeeded\n' };
}

function opts(runner: DockerBuilderOptions['runner'], extra: Partial<DockerBuilderOptions> = {}): DockerBuilderOptions {
  return { env: { PATH: '/usr/bin:/bin', HOME: scratch, DOCKER_HOST: 'tcp://docker:2375' }, runner, tmpDir: scratch, sleep: async () => {}, ...extra };
}

describe('DockerBuilder with a scripted docker CLI', () => {
  test('check(): legacy on a 28 CLI without buildx, with the reason; BuildKit on a 20.10 CLI', async () => {
    const legacy = createDockerBuilder(opts(scripted({ version: version28, buildx: noBuildx, info })));
    const i = await legacy.check();
    assert.equal(i.mode, 'legacy');
    assert.equal(i.inlineCache, false);
    assert.equal(i.endpoint, 'tcp://docker:2375');
    assert.match(i.notes[0]!, /no buildx plugin/);
    await legacy.dispose();
    const bk = createDockerBuilder(opts(scripted({ version: version2010, buildx: noBuildx, info })));
    assert.equal((await bk.check()).mode, 'buildkit');
    await bk.dispose();
    const bx = createDockerBuilder(opts(scripted({ version: version28, buildx: { stdout: 'github.com/docker/buildx v0.14.0 abc\n' }, info })));
    assert.equal((await bx.check()).mode, 'buildx');
    await bx.dispose();
  });

  test('check(): mode buildkit requested but impossible → docker.buildkit-unavailable; DOCKER_BUILDKIT=0 → legacy', async () => {
    const b = createDockerBuilder(opts(scripted({ version: version28, buildx: noBuildx, info }), { mode: 'buildkit' }));
    await assert.rejects(b.check(), (e: unknown) => isHoistError(e, 'docker.buildkit-unavailable'));
    await b.dispose();
    const off = createDockerBuilder(opts(scripted({ version: version2010, buildx: noBuildx, info }), { env: { DOCKER_BUILDKIT: '0' } }));
    assert.equal((await off.check()).mode, 'legacy');
    await off.dispose();
  });

  test('check(): an engine still starting is polled within engineWaitMs; a failed check is not cached', async () => {
    const refused = { code: 1, stderr: 'Cannot connect to the Docker daemon at tcp://docker:2375. Is the docker daemon running?\n' };
    const waiting = createDockerBuilder(opts(scripted({ version: [refused, refused, version28], buildx: noBuildx, info }), { engineWaitMs: 60_000 }));
    assert.equal((await waiting.check()).version, '20.10.24+dfsg1');
    await waiting.dispose();
    const impatient = createDockerBuilder(opts(scripted({ version: [refused, version28], buildx: noBuildx, info })));
    await assert.rejects(impatient.check(), (e: unknown) => isHoistError(e, 'docker.unreachable'));
    assert.equal((await impatient.check()).mode, 'legacy', 'second check retried');
    await impatient.dispose();
  });

  test('login: password on stdin only, transient failure retried, file store pinned, dir removed on dispose', async () => {
    const runner = scripted({ version: version28, buildx: noBuildx, info, login: [{ code: 1, stderr: 'Error response from daemon: Get "https://r.example/v2/": read: connection reset by peer' }, fakeLogin] });
    const b = createDockerBuilder(opts(runner));
    await b.login({ registry: 'r.example', username: 'AWS', password: new Secret(PASSWORD) });
    const dir = await b.configDir();
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'config.json')).mode & 0o777, 0o600);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { credHelpers: Record<string, string>; credsStore?: string };
    assert.deepEqual(cfg.credHelpers, { 'r.example': '' });
    assert.equal(cfg.credsStore, undefined);
    const logins = runner.calls.filter((c) => c.args[0] === 'login');
    assert.equal(logins.length, 2, 'retried once');
    for (const c of logins) {
      assert.deepEqual(c.args, ['login', '--username', 'AWS', '--password-stdin', 'r.example']);
      assert.equal(c.stdinBytes, Buffer.byteLength(PASSWORD));
      assert.equal(c.env.DOCKER_CONFIG, dir);
    }
    assert.ok(!JSON.stringify(runner.calls).includes(PASSWORD));
    await b.dispose();
    assert.equal(existsSync(dir), false);
    await b.dispose(); // idempotent
    await assert.rejects(b.check(), (e: unknown) => isHoistError(e, 'docker.disposed'));
  });

  test('login: 401 is not retried; a login that stores nothing is caught (later "no basic auth credentials")', async () => {
    const unauthorized = scripted({ version: version28, buildx: noBuildx, info, login: { code: 1, stderr: fixture('login-401.txt') } });
    const b = createDockerBuilder(opts(unauthorized));
    await assert.rejects(b.login({ registry: 'r.example', username: 'AWS', password: new Secret(PASSWORD) }), (e: unknown) => isHoistError(e, 'docker.login-unauthorized'));
    assert.equal(unauthorized.calls.filter((c) => c.args[0] === 'login').length, 1);
    await b.dispose();
    const forgetful = createDockerBuilder(opts(scripted({ login: { stdout: 'Login Succeeded\n' } })));
    await assert.rejects(forgetful.login({ registry: 'r.example', username: 'AWS', password: new Secret(PASSWORD) }), (e: unknown) => isHoistError(e, 'docker.login-not-stored'));
    await forgetful.dispose();
  });

  test('the host\'s credsStore and auths stay out; its contexts, currentContext and proxies stay in', async () => {
    const home = join(scratch, 'home-with-docker');
    mkdirSync(join(home, '.docker', 'contexts', 'meta'), { recursive: true });
    writeFileSync(join(home, '.docker', 'config.json'), JSON.stringify({ credsStore: 'desktop', auths: { 'r.example': { auth: 'c3RhbGU6c3RhbGU=' } }, currentContext: 'ci', proxies: { default: { httpProxy: 'http://proxy:3128' } } }));
    const b = createDockerBuilder(opts(scripted({}), { env: { HOME: home } }));
    const dir = await b.configDir();
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(cfg, { auths: {}, credHelpers: {}, currentContext: 'ci', proxies: { default: { httpProxy: 'http://proxy:3128' } } });
    assert.ok(existsSync(join(dir, 'contexts', 'meta')));
    await b.dispose();
  });

  test('legacy build: pulls the cache image first, builds with DOCKER_BUILDKIT=0, reports hits from the output', async () => {
    const runner = scripted({
      version: version28, buildx: noBuildx, info,
      pull: { code: 0, stdout: `latest: Pulling from app\nDigest: sha256:${'b'.repeat(64)}\nStatus: Downloaded newer image for r.example/app:latest\n` },
      build: (req) => {
        writeFileSync(req.args[req.args.indexOf('--iidfile') + 1]!, `sha256:${'c'.repeat(64)}`);
        return { stdout: fixture('legacy-build-cached.txt') };
      },
    });
    const b = createDockerBuilder(opts(runner));
    const r = await b.build({ context: scratch, tags: ['app:ci'], cacheFrom: ['r.example/app:latest'], pull: false });
    assert.deepEqual(runner.calls.map((c) => c.args[0]), ['version', 'buildx', 'info', 'pull', 'build']);
    const build = runner.calls[4]!;
    assert.equal(build.env.DOCKER_BUILDKIT, '0');
    assert.ok(!build.args.includes('--pull'));
    assert.equal(r.imageId, `sha256:${'c'.repeat(64)}`, 'the iidfile wins over the short ID in the output');
    assert.deepEqual([r.cachedSteps, r.totalSteps], [4, 4]);
    assert.deepEqual(r.cacheSources, [{ ref: 'r.example/app:latest', status: 'available', detail: `pulled sha256:${'b'.repeat(64)}` }]);
    assert.deepEqual(r.warnings, []);
    const cfg = JSON.parse(readFileSync(join(await b.configDir(), 'config.json'), 'utf8')) as { credHelpers: Record<string, string> };
    assert.ok('r.example' in cfg.credHelpers, 'cache registry pinned to the file store');
    await b.dispose();
  });

  test('BuildKit build: no pull (BuildKit imports the cache itself), inline cache on, missing cache image reported', async () => {
    const runner = scripted({ version: version2010, buildx: noBuildx, info, build: { stdout: fixture('buildkit-build-cache-from-missing.txt') } });
    const b = createDockerBuilder(opts(runner));
    const r = await b.build({ context: scratch, tags: ['app:ci'], cacheFrom: ['127.0.0.1:25000/hx:missing'] });
    assert.ok(!runner.calls.some((c) => c.args[0] === 'pull'));
    const build = runner.calls.find((c) => c.args[0] === 'build')!;
    assert.equal(build.env.DOCKER_BUILDKIT, '1');
    assert.ok(build.args.includes('BUILDKIT_INLINE_CACHE=1'));
    assert.ok(build.args.includes('--pull'), '--pull by default, like the seed');
    assert.equal(r.cacheSources[0]?.status, 'missing');
    assert.match(r.imageId, /^sha256:[0-9a-f]{64}$/, 'falls back to the ID in the output');
    await b.dispose();
  });

  test('a failed build becomes a diagnosis; a bad request lists every problem', async () => {
    const b = createDockerBuilder(opts(scripted({ version: version28, buildx: noBuildx, info, build: { code: 1, stdout: fixture('legacy-build-run-failed.txt') } })));
    await assert.rejects(b.build({ context: scratch, tags: ['app:ci'], pull: false }), (e: unknown) => isHoistError(e, 'docker.build-failed') && /RUN echo boom/.test(e.message));
    await assert.rejects(b.build({ context: scratch, tags: [], cacheFrom: ['Bad Ref'] }), (e: unknown) => isHoistError(e, 'config.invalid') && e.problems.length === 2);
    await b.dispose();
  });

  test('push: tag, push with a transient failure retried, digest and layer counts', async () => {
    const runner = scripted({
      version: version28, buildx: noBuildx, info, tag: {},
      push: [{ code: 1, stderr: 'received unexpected HTTP status: 503 Service Unavailable' }, { stdout: fixture('push-again-layers-exist.txt') }],
    });
    const b = createDockerBuilder(opts(runner));
    const r = await b.push({ image: 'app:ci', refs: ['127.0.0.1:25000/hx:bk'] });
    assert.deepEqual(runner.calls.filter((c) => c.args[0] === 'tag' || c.args[0] === 'push').map((c) => c.args), [
      ['tag', 'app:ci', '127.0.0.1:25000/hx:bk'],
      ['push', '127.0.0.1:25000/hx:bk'],
      ['push', '127.0.0.1:25000/hx:bk'],
    ]);
    assert.equal(r.pushed[0]?.digest, 'sha256:63b9618bafb30466aa00ba7bd553282b6b42b567199bf01e5cb87a515d16e35e');
    assert.deepEqual([r.pushed[0]?.layersPushed, r.pushed[0]?.layersExisting], [0, 3]);
    await b.dispose();
  });

  test('push: unauthorized is not retried', async () => {
    const runner = scripted({ version: version28, buildx: noBuildx, info, tag: {}, push: { code: 1, stdout: fixture('push-no-basic-auth.txt') } });
    const b = createDockerBuilder(opts(runner));
    await assert.rejects(b.push({ image: 'app:ci', refs: ['127.0.0.1:25001/hx:noauth'] }), (e: unknown) => isHoistError(e, 'docker.push-unauthorized'));
    assert.equal(runner.calls.filter((c) => c.args[0] === 'push').length, 1);
    await b.dispose();
  });

  test('a missing docker CLI → docker.cli-missing', async () => {
    const b = createDockerBuilder({ env: { PATH: '/nonexistent' }, docker: 'hoist-no-docker-here', tmpDir: scratch });
    await assert.rejects(b.check(), (e: unknown) => isHoistError(e, 'docker.cli-missing'));
    await b.dispose();
  });
});
