// The native builder against the real one: the same Dockerfile (no RUN) built by the local
// docker engine (classic builder, FROM hoist-test/busybox) and natively (FROM oci:<layout of the
// same rootfs>) must give the same filesystem (paths, types, modes, owners, contents, link
// targets) and the same config. Then the native image is loaded into docker and run.

import assert from 'node:assert/strict';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { buildNative } from '../src/build/native.ts';
import { ensureDockerBaseImage, writeOciLayout, type OciLayoutImage } from './support/base-image.ts';
import { dockerEnv, run, runOk, skipUnless } from './support/components.ts';
import { dockerImageFs, flattenOciLayout, fsDiff } from './support/image-fs.ts';

type Tree = Record<string, string | { data: string; mode: number } | { symlink: string } | { hardlink: string }>;

function writeTree(dir: string, tree: Tree): void {
  for (const [p, v] of Object.entries(tree)) {
    const full = join(dir, p);
    mkdirSync(dirname(full), { recursive: true });
    if (typeof v === 'string') writeFileSync(full, v);
    else if ('symlink' in v) symlinkSync(v.symlink, full);
    else if ('hardlink' in v) linkSync(join(dir, v.hardlink), full);
    else {
      writeFileSync(full, v.data);
      chmodSync(full, v.mode);
    }
  }
}

const FILES: Tree = {
  'app/bin/run.sh': { data: '#!/bin/sh\necho run\n', mode: 0o755 },
  'app/conf/a.conf': { data: 'a=1\n', mode: 0o640 },
  'app/conf/b.conf': { data: 'b=2\n', mode: 0o600 },
  'app/link': { symlink: 'bin/run.sh' },
  'app/abs-link': { symlink: '/etc/passwd' },
  'docs/one.md': '# one\n',
  'docs/two.md': '# two\n',
  'docs/skip.txt': 'no\n',
  'top.txt': { data: 'top\n', mode: 0o600 },
  'other.txt': 'other\n',
};

const CASES: { name: string; tree: Tree; dockerfile: string; has: string[]; prepare?: (ctx: string) => Promise<void>; run?: { args: string[]; stdout: string } }[] = [
  {
    name: 'copy files, dirs, globs, modes, symlinks',
    tree: { ...FILES, 'app/hard': { hardlink: 'app/conf/a.conf' } },
    dockerfile: `ARG BASE\nFROM \${BASE}\nCOPY app/ /opt/app/\nCOPY app /opt/app2\nCOPY *.txt /data/\nCOPY docs/*.md /docs/\nCOPY top.txt /renamed.txt\nCOPY ["other.txt", "/json dest/"]\nCOPY top.txt /bin\n`,
    has: ['opt/app/bin/run.sh', 'opt/app2/link', 'opt/app/hard', 'data/top.txt', 'docs/one.md', 'renamed.txt', 'json dest/other.txt', 'bin/top.txt'],
  },
  {
    name: '--chown numeric and by name, new parents',
    tree: FILES,
    dockerfile: `ARG BASE\nFROM \${BASE}\nCOPY --chown=1000:1000 app /home/app/\nCOPY --chown=nobody:65534 top.txt /srv/\nCOPY --chown=42 other.txt /new/deep/dir/file.txt\nCOPY --chown=7:8 docs/ /etc/docs/\n`,
    has: ['home/app/bin/run.sh', 'srv/top.txt', 'new/deep/dir/file.txt', 'etc/docs/one.md'],
  },
  {
    name: 'multi-stage COPY --from',
    tree: FILES,
    dockerfile: `ARG BASE\nFROM \${BASE} AS build\nCOPY app /opt/app\nCOPY --chown=5:5 docs /opt/docs\nFROM \${BASE}\nCOPY --from=build /opt/app /app\nCOPY --from=0 /opt/docs/one.md /one.md\nCOPY --from=build /etc/passwd /copied-passwd\nCOPY --from=build /opt/app/link /linked\n`,
    has: ['app/bin/run.sh', 'one.md', 'copied-passwd', 'linked'],
  },
  {
    name: 'WORKDIR, ENV/ARG substitution, USER, EXPOSE, LABEL, VOLUME, HEALTHCHECK, exec form',
    tree: FILES,
    dockerfile: [
      'ARG BASE',
      'FROM ${BASE}',
      'ARG VERSION=1.2',
      'ARG EMPTY',
      'ENV APP_HOME=/srv/app NAME="hello world"',
      'ENV LEGACY spaced value',
      'WORKDIR ${APP_HOME}',
      'WORKDIR sub',
      'COPY top.txt ./',
      'COPY other.txt ${APP_HOME}/o-${VERSION}.txt',
      'ENV PATH=$APP_HOME/bin:$PATH',
      'LABEL version=$VERSION "com.example.name"="${NAME}" fallback=${EMPTY:-default} alt=${VERSION:+set} gone=${NOPE:+x}',
      'EXPOSE 8080 53/udp',
      'USER nobody',
      'VOLUME /data /cache',
      'VOLUME ["/json-vol"]',
      'STOPSIGNAL SIGQUIT',
      'HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD wget -q localhost || exit 1',
      'ENTRYPOINT ["/bin/echo"]',
      'CMD ["hi", "there"]',
    ].join('\n'),
    has: ['srv/app/sub/top.txt', 'srv/app/o-1.2.txt'],
    run: { args: [], stdout: 'hi there\n' },
  },
  {
    name: 'shell forms, SHELL, ONBUILD, .dockerignore',
    tree: {
      ...FILES,
      '.dockerignore': '# comment\n*.txt\n!other.txt\ndocs/**\n!docs/one.md\n**/b.conf\n',
    },
    dockerfile: `ARG BASE\nFROM \${BASE}\nCOPY . /ctx/\nSHELL ["/bin/sh", "-ec"]\nENTRYPOINT echo "entry $HOME"\nONBUILD COPY . /later\nFROM \${BASE}\nCOPY . /ctx2\nCMD echo shell form && ls /ctx2\n`,
    has: ['ctx2/other.txt', 'ctx2/docs/one.md', 'ctx2/app/conf/a.conf'],
    run: { args: [], stdout: 'shell form\nDockerfile\napp\ndocs\nother.txt\n' },
  },
  {
    name: 'ADD of local files and tar archives (gzip and plain) extracts them, keeping owners',
    tree: { ...FILES, 'arch/etc/conf.d/x.conf': { data: 'x\n', mode: 0o640 }, 'arch/bin/tool': { data: '#!/bin/sh\n', mode: 0o755 }, 'arch/rel': { symlink: 'bin/tool' } },
    prepare: async (ctx) => {
      await runOk('tar', ['-C', join(ctx, 'arch'), '--owner=7', '--group=9', '--numeric-owner', '-czf', join(ctx, 'bundle.tgz'), 'etc', 'bin', 'rel']);
      await runOk('tar', ['-C', join(ctx, 'arch'), '-cf', join(ctx, 'plain.tar'), 'bin/tool', 'etc/conf.d/x.conf']);
    },
    dockerfile: `ARG BASE\nFROM \${BASE}\nADD bundle.tgz /unpacked/\nADD plain.tar /plain\nADD top.txt /added.txt\nADD app /added-app/\n`,
    has: ['unpacked/etc/conf.d/x.conf', 'unpacked/rel', 'plain/bin/tool', 'added.txt', 'added-app/link'],
  },
  {
    name: 'FROM scratch with files from an earlier stage',
    tree: FILES,
    dockerfile: `ARG BASE\nFROM \${BASE} AS tools\nFROM scratch\nCOPY --from=tools /bin/busybox /bin/busybox\nCOPY app /app\nWORKDIR /work\nENTRYPOINT ["/bin/busybox", "cat"]\nCMD ["/app/conf/a.conf"]\n`,
    has: ['bin/busybox', 'app/conf/a.conf', 'work'],
    run: { args: [], stdout: 'a=1\n' },
  },
];

const CONFIG_KEYS = ['Env', 'Entrypoint', 'Cmd', 'WorkingDir', 'User', 'Labels', 'ExposedPorts', 'Volumes', 'StopSignal', 'Healthcheck', 'OnBuild', 'Shell'];

function pickConfig(c: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of CONFIG_KEYS) {
    const v = c?.[k];
    const empty = v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
    if (!empty) out[k] = v;
  }
  return out;
}

/** An OCI layout → `docker load` archive (docker 20.10 loads docker-archive, not OCI). */
async function dockerLoad(layout: string, tag: string, name: string, env: NodeJS.ProcessEnv): Promise<void> {
  const { readFileSync } = await import('node:fs');
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)!;
  const p = (d: string): string => `blobs/sha256/${d.split(':')[1]}`;
  const manifest = JSON.parse(readFileSync(join(layout, p(desc.digest)), 'utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  writeFileSync(join(layout, 'manifest.json'), JSON.stringify([{ Config: p(manifest.config.digest), RepoTags: [name], Layers: manifest.layers.map((l) => p(l.digest)) }]));
  const archive = `${layout}.tar`;
  await runOk('tar', ['-cf', archive, '-C', layout, 'manifest.json', 'blobs'], { env });
  await runOk('docker', ['load', '-i', archive], { env, timeoutMs: 120_000 });
}

describe('native builder ≡ docker classic builder', { concurrency: false }, () => {
  const env = dockerEnv('unix', { DOCKER_BUILDKIT: '0' });
  let root: string;
  let base: OciLayoutImage;
  let ready = false;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'hoist-native-eq-'));
    base = await writeOciLayout(join(root, 'base'), { tag: 'latest' });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  for (const [i, c] of CASES.entries()) {
    test(c.name, { timeout: 240_000 }, async (t) => {
      if (await skipUnless(t, 'docker-unix')) return;
      if (!ready) {
        await ensureDockerBaseImage('hoist-test/busybox:latest');
        ready = true;
      }
      const ctx = join(root, `ctx-${i}`);
      writeTree(ctx, c.tree);
      writeFileSync(join(ctx, 'Dockerfile'), c.dockerfile);
      await c.prepare?.(ctx);
      const dockerTag = `hoist-native-eq/docker:${i}`;
      await runOk('docker', ['build', '-q', '--build-arg', 'BASE=hoist-test/busybox:latest', '-t', dockerTag, ctx], { env, timeoutMs: 180_000 });
      const out = join(root, `out-${i}`);
      await buildNative({ context: ctx, buildArgs: { BASE: base.ref }, outputDir: out, tags: ['eq'], sourceDateEpoch: 1_700_000_000 });

      const native = await flattenOciLayout(out, 'eq');
      const docker = await dockerImageFs(dockerTag, env);
      for (const p of c.has) assert.ok(native.fs.has(p), `native image lacks ${p}`);
      if (!native.fs.has('etc')) docker.delete('etc'); // docker creates /etc for its mounts
      assert.deepEqual(fsDiff(native.fs, docker), []);

      const inspect = JSON.parse((await runOk('docker', ['image', 'inspect', '--format', '{{json .Config}}', dockerTag], { env })).stdout) as Record<string, unknown>;
      assert.deepEqual(pickConfig(native.config.config as Record<string, unknown>), pickConfig(inspect));

      if (c.run) {
        const name = `hoist-native-eq/native:${i}`;
        await dockerLoad(out, 'eq', name, env);
        const r = await runOk('docker', ['run', '--rm', name, ...c.run.args], { env, timeoutMs: 60_000 });
        assert.equal(r.stdout, c.run.stdout);
        await run('docker', ['rmi', '-f', name], { env });
      }
      await run('docker', ['rmi', '-f', dockerTag], { env });
    });
  }
});
