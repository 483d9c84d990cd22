// Pure tests of the docker backend: argv/env builders, output parsers and diagnoses, on output
// recorded from the real CLIs (test/fixtures/docker-output/README.md says how each was made).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { buildArgs, buildEnv, commandEnv, loginArgs, pullArgs, pushArgs } from '../src/build/docker-args.ts';
import { cacheWarnings, needsCachePull, sourceFromImport, sourceFromPull } from '../src/build/docker-cache.ts';
import { diagnoseBuild, diagnoseEngine, diagnoseLogin, diagnosePush, looksUnprivileged } from '../src/build/docker-diagnose.ts';
import {
  BuildOutputParser,
  majorVersion,
  parseBuildOutput,
  parseBuildxVersion,
  parseInfoJson,
  parsePullResult,
  parsePushOutput,
  parseVersionJson,
} from '../src/build/docker-parse.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'docker-output');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

describe('docker-args', () => {
  const base = { context: '/src/app', tags: ['app:ci'], iidFile: '/tmp/cfg/iid-1', cacheFrom: ['reg.example:5000/app:latest'] };

  test('legacy build: the seed\'s flags, --pull by default, no --progress (a 23+ CLI rejects it)', () => {
    assert.deepEqual(buildArgs(base, 'legacy'), [
      'build', '--file', '/src/app/Dockerfile', '--iidfile', '/tmp/cfg/iid-1', '--pull', '--tag', 'app:ci',
      '--cache-from', 'reg.example:5000/app:latest', '/src/app',
    ]);
  });

  test('BuildKit build: plain progress and inline cache metadata so the pushed image is the next cache', () => {
    const args = buildArgs({ ...base, pull: false }, 'buildkit');
    assert.deepEqual(args.slice(0, 2), ['build', '--progress=plain']);
    assert.ok(!args.includes('--pull'));
    assert.ok(!args.includes('--load'));
    const i = args.indexOf('BUILDKIT_INLINE_CACHE=1');
    assert.equal(args[i - 1], '--build-arg');
  });

  test('buildx build adds --load (docker-container builders keep results otherwise)', () => {
    assert.deepEqual(buildArgs(base, 'buildx').slice(0, 3), ['build', '--progress=plain', '--load']);
  });

  test('build args and labels are sorted; a user BUILDKIT_INLINE_CACHE wins; target/platform/dockerfile pass through', () => {
    const args = buildArgs(
      { ...base, dockerfile: '/src/app/ci.Dockerfile', buildArgs: { Z: '1', A: 'x=y', BUILDKIT_INLINE_CACHE: '0' }, labels: { 'org.b': '2', 'org.a': '1' }, target: 'prod', platform: 'linux/arm64' },
      'buildkit',
    );
    const joined = args.join(' ');
    assert.match(joined, /--file \/src\/app\/ci\.Dockerfile/);
    assert.match(joined, /--build-arg A=x=y --build-arg BUILDKIT_INLINE_CACHE=0 --build-arg Z=1 --cache-from/);
    assert.ok(!joined.includes('BUILDKIT_INLINE_CACHE=1'));
    assert.match(joined, /--target prod --platform linux\/arm64 --label org\.a=1 --label org\.b=2 \/src\/app$/);
  });

  test('login argv never holds a password; pull/push are one ref', () => {
    assert.deepEqual(loginArgs('123.dkr.ecr.ap-south-1.amazonaws.com', 'AWS'), ['login', '--username', 'AWS', '--password-stdin', '123.dkr.ecr.ap-south-1.amazonaws.com']);
    assert.deepEqual(pullArgs('r/a:1', 'linux/amd64'), ['pull', '--platform', 'linux/amd64', 'r/a:1']);
    assert.deepEqual(pushArgs('r/a:1'), ['push', 'r/a:1']);
  });

  test('commandEnv isolates DOCKER_CONFIG and keeps TLS certs where docker looked before', () => {
    const env = commandEnv({ HOME: '/home/ci', DOCKER_HOST: 'tcp://docker:2376', DOCKER_TLS_VERIFY: '1' }, '/tmp/hoist-docker-x');
    assert.equal(env.DOCKER_CONFIG, '/tmp/hoist-docker-x');
    assert.equal(env.DOCKER_CERT_PATH, '/home/ci/.docker');
    assert.equal(commandEnv({ DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs/client' }, '/x').DOCKER_CERT_PATH, '/certs/client');
    assert.equal(commandEnv({ HOME: '/h' }, '/x').DOCKER_CERT_PATH, undefined);
  });

  test('buildEnv pins the builder the parser expects', () => {
    assert.equal(buildEnv({}, 'legacy').DOCKER_BUILDKIT, '0');
    assert.equal(buildEnv({}, 'buildkit').DOCKER_BUILDKIT, '1');
    assert.equal(buildEnv({}, 'buildx').BUILDX_NO_DEFAULT_ATTESTATIONS, '1');
  });
});

describe('build output: legacy builder', () => {
  test('cache hits after pulling a legacy-built image ("---> Using cache")', () => {
    const p = parseBuildOutput(fixture('legacy-build-cached.txt'));
    assert.equal(p.format, 'legacy');
    assert.equal(p.steps.length, 5);
    assert.equal(p.totalSteps, 4, 'FROM is not a cacheable step');
    assert.equal(p.cachedSteps, 4);
    assert.deepEqual(p.cacheHits, ['ARG N=1', 'RUN echo hi-$N-7 > /x', 'ENV A=b', 'RUN echo second > /y']);
    assert.equal(p.imageId, '057fc470b75c');
    assert.equal(p.failure, undefined);
  });

  test('a BuildKit-built cache image is silently unused by the legacy builder', () => {
    const p = parseBuildOutput(fixture('legacy-build-cache-from-buildkit-image-unused.txt'));
    assert.equal(p.totalSteps, 4);
    assert.equal(p.cachedSteps, 0);
    const warnings = cacheWarnings('legacy', [{ ref: 'r/app:latest', status: 'available' }], p);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /no step matched.*legacy builder matches on layer history/);
  });

  test('multi-stage: both FROM steps excluded', () => {
    const p = parseBuildOutput(fixture('legacy-build-multistage-fresh.txt'));
    assert.equal(p.steps.filter((s) => s.from).length, 2);
    assert.equal(p.totalSteps, 4);
    assert.equal(p.cachedSteps, 0);
  });

  test('a failing RUN names the step', () => {
    const p = parseBuildOutput(fixture('legacy-build-run-failed.txt'));
    assert.equal(p.failure?.step, 'RUN echo boom && false');
    assert.match(p.failure!.message, /returned a non-zero code: 1/);
    const err = diagnoseBuild(p, fixture('legacy-build-run-failed.txt'), { pull: false, endpoint: 'unix:///var/run/docker.sock' });
    assert.equal(err.code, 'docker.build-failed');
    assert.match(err.message, /at RUN echo boom && false/);
  });

  test('--pull with a local-only base image → docker.base-image, hint: pull false', () => {
    const text = fixture('legacy-build-pull-local-only-base.txt');
    const err = diagnoseBuild(parseBuildOutput(text), text, { pull: true, endpoint: 'x' });
    assert.equal(err.code, 'docker.base-image');
    assert.match(err.hint!, /pull: false/);
  });
});

describe('build output: BuildKit plain progress', () => {
  test('fresh build: steps, image ID from "writing image"', () => {
    const p = parseBuildOutput(fixture('buildkit-build-fresh.txt'));
    assert.equal(p.format, 'buildkit');
    assert.equal(p.totalSteps, 2);
    assert.equal(p.cachedSteps, 0);
    assert.equal(p.imageId, 'sha256:937c009329b3d2472bd1b434f8fafffa4027a2c645ab9be12368a8067657301a');
  });

  test('cache imported from the registry: CACHED steps and a successful import', () => {
    const p = parseBuildOutput(fixture('buildkit-build-cache-import-hit.txt'));
    assert.equal(p.cachedSteps, 2);
    assert.deepEqual(p.cacheHits, ['RUN echo hi-1-7 > /x', 'RUN echo second > /y']);
    assert.deepEqual(p.cacheImports, [{ ref: '127.0.0.1:25000/hx:bk', ok: true }]);
    assert.deepEqual(sourceFromImport('127.0.0.1:25000/hx:bk', p.cacheImports).status, 'available');
    assert.deepEqual(cacheWarnings('buildkit', [sourceFromImport('127.0.0.1:25000/hx:bk', p.cacheImports)], p), []);
  });

  test('a missing cache image is reported, not fatal', () => {
    const p = parseBuildOutput(fixture('buildkit-build-cache-from-missing.txt'));
    assert.equal(p.failure, undefined);
    assert.equal(p.cacheImports[0]?.ok, false);
    assert.equal(sourceFromImport('127.0.0.1:25000/hx:missing', p.cacheImports).status, 'missing');
    assert.ok(p.imageId?.startsWith('sha256:'));
  });

  test('multi-stage: stage names kept, FROM excluded', () => {
    const p = parseBuildOutput(fixture('buildkit-build-multistage-fresh.txt'));
    assert.deepEqual(p.steps.map((s) => [s.stage, s.name]), [
      ['builder', 'FROM docker.io/hoist-test/busybox:latest'],
      ['builder', 'RUN echo built > /out'],
      ['stage-1', 'COPY --from=builder /out /out'],
    ]);
    assert.equal(p.totalSteps, 2);
  });

  test('a failing RUN names the step and BuildKit\'s message', () => {
    const p = parseBuildOutput(fixture('buildkit-build-run-failed.txt'));
    assert.equal(p.failure?.step, 'RUN echo boom && false');
    assert.match(p.failure!.message, /exit code: 1/);
  });

  test('--pull with a local-only base image → docker.base-image', () => {
    const text = fixture('buildkit-build-pull-local-only-base.txt');
    const p = parseBuildOutput(text);
    assert.match(p.failure!.step!, /load metadata for docker\.io\/hoist-test\/busybox/);
    assert.equal(diagnoseBuild(p, text, { pull: true, endpoint: 'x' }).code, 'docker.base-image');
  });

  test('a vertex name repeated when output interleaves is not a new step; streaming matches batch', () => {
    const lines = ['#5 [2/3] RUN a', '#6 [3/3] RUN b', '#5 [2/3] RUN a', '#5 CACHED', '#6 DONE 0.1s'];
    const streaming = new BuildOutputParser();
    for (const l of lines) streaming.line(l);
    assert.deepEqual(streaming.result(), parseBuildOutput(lines.join('\n')));
    assert.equal(streaming.result().totalSteps, 2);
    assert.deepEqual(streaming.result().cacheHits, ['RUN a']);
  });

  test('a 23+ CLI without buildx: DOCKER_BUILDKIT=1 fails → docker.buildkit-unavailable', () => {
    const text = fixture('cli28-buildkit-without-buildx.txt');
    assert.equal(diagnoseBuild(parseBuildOutput(text), text, { pull: false, endpoint: 'x' }).code, 'docker.buildkit-unavailable');
  });
});

describe('push / pull output', () => {
  test('first push: layers pushed, digest and size', () => {
    const p = parsePushOutput(fixture('push-first.txt'));
    assert.deepEqual([p.pushed, p.existing, p.mounted], [3, 0, 0]);
    assert.equal(p.digest, 'sha256:63b9618bafb30466aa00ba7bd553282b6b42b567199bf01e5cb87a515d16e35e');
    assert.equal(p.size, 942);
    assert.equal(p.tag, 'bk');
    assert.equal(p.repository, '127.0.0.1:25000/hx');
  });

  test('re-push: every layer "already exists", same digest', () => {
    const p = parsePushOutput(fixture('push-again-layers-exist.txt'));
    assert.deepEqual([p.pushed, p.existing], [0, 3]);
    assert.equal(p.digest, parsePushOutput(fixture('push-first.txt')).digest);
  });

  test('"Mounted from" counts as mounted', () => {
    assert.equal(parsePushOutput('abcdef012345: Mounted from other/repo\n').mounted, 1);
  });

  test('push without login → docker.push-unauthorized', () => {
    const err = diagnosePush('127.0.0.1:25001/hx:noauth', fixture('push-no-basic-auth.txt'));
    assert.equal(err.code, 'docker.push-unauthorized');
    assert.equal(err.retryable, false);
    assert.equal(diagnosePush('r/a:1', 'name unknown: The repository with name \'a\' does not exist').code, 'docker.repository-missing');
    assert.equal(diagnosePush('r/a:1', 'tag invalid: The image tag \'1\' already exists ... cannot be overwritten because the repository is immutable.').code, 'docker.tag-immutable');
    assert.equal(diagnosePush('r/a:1', 'read: connection reset by peer').retryable, true);
  });

  test('pull: missing is its own status (`|| true`), auth and network failures are not "missing"', () => {
    assert.equal(parsePullResult(1, '', fixture('pull-manifest-unknown.txt')).status, 'missing');
    assert.equal(parsePullResult(1, '', fixture('pull-no-basic-auth.txt')).status, 'unauthorized');
    assert.equal(parsePullResult(1, '', fixture('pull-connection-refused.txt')).status, 'failed');
    const ok = parsePullResult(0, 'bk: Pulling from hx\nDigest: sha256:' + 'a'.repeat(64) + '\nStatus: Downloaded newer image for r/hx:bk\n', '');
    assert.deepEqual(ok, { status: 'pulled', digest: 'sha256:' + 'a'.repeat(64) });
    assert.equal(sourceFromPull('r/hx:bk', parsePullResult(1, '', fixture('pull-manifest-unknown.txt'))).status, 'missing');
    assert.equal(sourceFromPull('r/hx:bk', parsePullResult(1, '', fixture('pull-no-basic-auth.txt'))).status, 'unavailable');
    assert.equal(needsCachePull('legacy'), true);
    assert.equal(needsCachePull('buildkit'), false);
  });

  test('login failures', () => {
    assert.equal(diagnoseLogin('r', fixture('login-401.txt')).code, 'docker.login-unauthorized');
    const refused = diagnoseLogin('r', fixture('login-connection-refused.txt'));
    assert.equal(refused.code, 'docker.login-failed');
    assert.equal(refused.retryable, true);
    assert.equal(diagnoseLogin('r', fixture('login-credential-helper-cannot-store.txt')).code, 'docker.login-credstore');
    assert.equal(diagnoseLogin('r', fixture('login-non-tty.txt')).code, 'docker.login-tty');
  });
});

describe('version / info', () => {
  test('docker version JSON: client and server', () => {
    const v = parseVersionJson(fixture('version-ok.json'))!;
    assert.equal(v.client.version, '28.2.2');
    assert.equal(v.server?.version, '20.10.24+dfsg1');
    assert.equal(v.server?.apiVersion, '1.41');
    assert.equal(parseVersionJson('{"Client":{"Version":"28.2.2"},"Server":null}')?.server, undefined);
    assert.equal(parseVersionJson('not json'), undefined);
  });

  test('info, buildx version, major version', () => {
    assert.deepEqual(parseInfoJson('{"Driver":"vfs","Warnings":["WARNING: No swap limit support"]}'), { driver: 'vfs', warnings: ['WARNING: No swap limit support'] });
    assert.equal(parseBuildxVersion('github.com/docker/buildx v0.12.1 30feaa1\n'), 'v0.12.1');
    assert.equal(majorVersion('20.10.24+dfsg1'), 20);
    assert.equal(majorVersion('28.2.2'), 28);
  });
});

describe('engine diagnosis on recorded `docker version` failures (CLI 28.2.2 and 20.10.24)', () => {
  const cases = JSON.parse(fixture('engine-check-errors.json')) as { case: string; cli: string; env: Record<string, string>; stderr: string }[];
  const expected: Record<string, string> = {
    'tcp-connection-refused': 'docker.unreachable',
    'tcp-dns-no-such-host': 'docker.dns',
    'http-to-tls-port-eof': 'docker.tls-mismatch',
    'http-to-go-tls-port': 'docker.tls-mismatch',
    'https-to-plain-http-port': 'docker.tls-mismatch',
    'tls-verify-without-certs': 'docker.tls-certs',
    'unix-socket-missing': 'docker.unreachable',
    'unix-permission-denied': 'docker.permission',
  };
  assert.equal(cases.length, 16);
  for (const c of cases) {
    test(`${c.case} (${c.cli}) → ${expected[c.case]}`, () => {
      const ctx = {
        dockerHost: c.env.DOCKER_HOST!,
        tlsVerify: Boolean(c.env.DOCKER_TLS_VERIFY),
        ...(c.env.DOCKER_CERT_PATH ? { certPath: c.env.DOCKER_CERT_PATH } : {}),
        socketExists: c.case !== 'unix-socket-missing',
      };
      const err = diagnoseEngine(c.stderr, ctx);
      assert.equal(err.code, expected[c.case]);
      assert.equal(err.context.dockerHost, c.env.DOCKER_HOST);
      assert.ok(err.hint && err.hint.length > 20);
    });
  }

  test('the hints say what to change', () => {
    const refused = diagnoseEngine('Cannot connect to the Docker daemon at tcp://docker:2375. Is the docker daemon running?', { dockerHost: 'tcp://docker:2375', tlsVerify: false });
    assert.match(refused.hint!, /not up yet or listens with TLS on 2376/);
    assert.match(refused.hint!, /DOCKER_TLS_CERTDIR: "" and command \["--tls=false"\]/);
    assert.match(refused.hint!, /privileged: true/);
    assert.equal(refused.retryable, true);
    const dns = diagnoseEngine('dial tcp: lookup docker on 10.0.0.2:53: no such host', { dockerHost: 'tcp://docker:2375', tlsVerify: false });
    assert.match(dns.hint!, /DinD service is missing: add services: \[\{ name: "docker:24.0-dind"/);
    const plainToTls = diagnoseEngine('Error response from daemon: Client sent an HTTP request to an HTTPS server.', { dockerHost: 'tcp://docker:2376', tlsVerify: false });
    assert.match(plainToTls.message, /expects TLS/);
    assert.match(plainToTls.hint!, /DOCKER_TLS_VERIFY/);
  });

  test('DOCKER_HOST unset and no socket → docker.no-engine with the DinD recipe', () => {
    const err = diagnoseEngine('Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?', { tlsVerify: false, socketExists: false });
    assert.equal(err.code, 'docker.no-engine');
    assert.match(err.hint!, /DOCKER_HOST: tcp:\/\/docker:2375/);
    assert.equal(err.context.dockerHostSet, false);
  });

  test('an unprivileged dind (transcribed messages) → docker.privileged', () => {
    for (const line of fixture('privileged-transcribed.txt').trim().split('\n')) {
      assert.ok(looksUnprivileged(line), line);
      assert.equal(diagnoseEngine(line, { dockerHost: 'tcp://docker:2375', tlsVerify: false }).code, 'docker.privileged', line);
    }
    assert.equal(looksUnprivileged('Cannot connect to the Docker daemon'), false);
  });
});
