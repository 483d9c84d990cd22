// Real components used by the tests (DESIGN.md §4) and small process helpers.
//
//   const skip = await requireComponent('docker');
//   if (skip) return t.skip(skip);          // outside CI; under CI=true it already threw
//
// Every child process gets cleanEnv(): no AWS_* / DOCKER_* from the host.

import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
// Also imported for its side effect: the test file's own TMPDIR and the secret-scan hooks (issue 6).
import { recordOutput } from './secret-scan.ts';
import { byDesignStdout, commandLabel } from './secret-match.ts';

export const DOCKER_UNIX_HOST = 'unix:///var/run/docker.sock';
export const DOCKER_TCP_HOST = 'tcp://127.0.0.1:2375';

/** State dir shared with scripts/ensure-test-env.sh (dockerd log, cached rootfs, locks). */
export function testStateDir(): string {
  return process.env.HOIST_TEST_STATE ?? join(process.env.TMPDIR ?? tmpdir(), 'hoist-test');
}

// ------------------------------------------------------------------ environment

let sharedHome: string | undefined;
const tempHomes: string[] = [];
process.once('exit', () => {
  for (const d of tempHomes) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
});

/** A fresh empty HOME directory, removed when the process exits. */
export function tempHome(): string {
  const d = mkdtempSync(join(tmpdir(), 'hoist-home-'));
  tempHomes.push(d);
  return d;
}

/** Host PATH without pyenv entries (so `aws` never resolves to the pyenv v1 CLI). */
function cleanPath(): string {
  const host = process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  return host
    .split(delimiter)
    .filter((p) => p !== '' && !p.includes('/.pyenv/'))
    .join(delimiter);
}

export interface CleanEnvOptions {
  /**
   * HOME for the child: a path, 'fresh' (new empty temp dir), or 'shared' (default:
   * one empty temp dir per test process, so ~/.aws and ~/.docker of the host never leak in).
   */
  home?: string | 'fresh' | 'shared';
}

/**
 * A child-process environment built from scratch: PATH (host PATH minus pyenv shims),
 * HOME (a temp dir), LANG, TMPDIR when set — and nothing else from the host (no AWS_*,
 * DOCKER_*, CI, GITLAB_*, ...). `extra` is applied last.
 */
export function cleanEnv(extra: Record<string, string> = {}, opts: CleanEnvOptions = {}): NodeJS.ProcessEnv {
  let home: string;
  if (opts.home === undefined || opts.home === 'shared') {
    sharedHome ??= tempHome();
    home = sharedHome;
  } else if (opts.home === 'fresh') {
    home = tempHome();
  } else {
    home = opts.home;
  }
  const env: NodeJS.ProcessEnv = {
    PATH: cleanPath(),
    HOME: home,
    LANG: 'C.UTF-8',
  };
  if (process.env.TMPDIR) env.TMPDIR = process.env.TMPDIR;
  if (process.env.HOIST_TEST_STATE) env.HOIST_TEST_STATE = process.env.HOIST_TEST_STATE;
  return { ...env, ...extra };
}

/** cleanEnv plus DOCKER_HOST for the local engine (unix socket or DinD-style tcp). */
export function dockerEnv(via: 'unix' | 'tcp' = 'unix', extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return cleanEnv({ DOCKER_HOST: via === 'tcp' ? DOCKER_TCP_HOST : DOCKER_UNIX_HOST, ...extra });
}

// ------------------------------------------------------------------ run

export interface RunOptions {
  /** Defaults to cleanEnv() — never the host environment. */
  env?: NodeJS.ProcessEnv;
  input?: string | Uint8Array;
  cwd?: string;
  /** Default 60 s. On expiry the whole process group is killed and run() rejects. */
  timeoutMs?: number;
  /**
   * Why this command's stdout holds a secret on purpose (e.g. a shell that evals `hoist
   * credentials` and echoes a key to check it): its stdout is then not secret-scanned.
   * Commands in secret-match.ts BY_DESIGN_STDOUT need no reason here. stderr is always scanned.
   */
  stdoutHoldsSecret?: string;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run a program (no shell), collect its output, bounded by a timeout. Resolves whatever the exit code. */
export function run(cmd: string, args: readonly string[] = [], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? cleanEnv(),
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // own process group, so a timeout kills grandchildren too
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    let hardStop: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      // If something outside the group still holds our pipes, give up waiting for 'close'.
      hardStop = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(null, 'SIGKILL');
      }, 2_000);
    }, timeoutMs);
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (hardStop) clearTimeout(hardStop);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      recordRun(cmd, args, stdout, stderr, opts.stdoutHoldsSecret);
      if (timedOut) {
        reject(
          new Error(
            `run ${cmd} ${args.join(' ')}: timed out after ${timeoutMs} ms\n--- stderr (tail) ---\n${stderr.slice(-2000)}`,
          ),
        );
        return;
      }
      resolve({ code, signal, stdout, stderr });
    };
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (hardStop) clearTimeout(hardStop);
      reject(new Error(`run ${cmd}: ${e.message}`));
    });
    child.on('close', (code, signal) => finish(code, signal));
    child.stdin.on('error', () => {
      /* child may exit before reading stdin */
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Hands a command's output to the secret scan, minus a stdout that holds a secret by design. */
function recordRun(cmd: string, args: readonly string[], stdout: string, stderr: string, stdoutHoldsSecret: string | undefined): void {
  const label = commandLabel(cmd, args);
  if (stdoutHoldsSecret === undefined && byDesignStdout(cmd, args) === undefined) recordOutput(`stdout of \`${label}\``, stdout);
  recordOutput(`stderr of \`${label}\``, stderr);
}

/** run() that rejects on a non-zero exit code, with stderr in the message. */
export async function runOk(cmd: string, args: readonly string[] = [], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} exited with ${r.code ?? r.signal}\n--- stderr ---\n${r.stderr.slice(-4000)}\n--- stdout ---\n${r.stdout.slice(-2000)}`,
    );
  }
  return r;
}

// ------------------------------------------------------------------ components

let awsPath: string | undefined;

/** Path of Debian's AWS CLI v2 (package awscli) — never the pyenv v1 shim. Throws when absent. */
export function awsCliV2(): string {
  if (awsPath !== undefined) return awsPath;
  const candidates: string[] = [];
  try {
    const files = execFileSync('dpkg', ['-L', 'awscli'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
    for (const line of files.split('\n')) if (/\/bin\/aws$/.test(line)) candidates.push(line.trim());
  } catch {
    /* not a Debian package install */
  }
  candidates.push('/usr/bin/aws', '/usr/local/bin/aws'); // Debian / official v2 installer locations
  for (const p of candidates) {
    if (!existsSync(p) || p.includes('/.pyenv/')) continue;
    try {
      const v = execFileSync(p, ['--version'], { encoding: 'utf8', env: cleanEnv(), timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
      if (v.startsWith('aws-cli/2')) return (awsPath = p);
    } catch {
      /* try next */
    }
  }
  throw new Error('AWS CLI v2 not found (install Debian package awscli; scripts/ensure-test-env.sh does it)');
}

export type ComponentName =
  | 'docker' // engine on BOTH unix socket and tcp://127.0.0.1:2375
  | 'docker-unix'
  | 'docker-tcp'
  | 'docker-registry'
  | 'skopeo'
  | 'buildah'
  | 'awscli' // AWS CLI v2
  | 'htpasswd' // apache2-utils, for Basic-auth registries
  | 'busybox' // static busybox for local base images
  | 'igzip'; // ISA-L's compressor (package isal), hoist copy's fast engine

async function probe(cmd: string, args: string[], expect?: RegExp, env: NodeJS.ProcessEnv = cleanEnv()): Promise<string | undefined> {
  try {
    const r = await run(cmd, args, { env, timeoutMs: 20_000 });
    if (r.code !== 0) return `\`${cmd} ${args.join(' ')}\` exited ${r.code}: ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}`;
    if (expect && !expect.test(r.stdout + r.stderr)) return `\`${cmd} ${args.join(' ')}\` output does not match ${expect}`;
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

const checks: Record<ComponentName, () => Promise<string | undefined>> = {
  'docker-unix': () => probe('docker', ['info', '--format', '{{.ServerVersion}}'], undefined, dockerEnv('unix')),
  'docker-tcp': () => probe('docker', ['info', '--format', '{{.ServerVersion}}'], undefined, dockerEnv('tcp')),
  docker: async () => (await checkComponent('docker-unix')) ?? (await checkComponent('docker-tcp')),
  'docker-registry': () => probe('docker-registry', ['--version'], /distribution/),
  skopeo: () => probe('skopeo', ['--version'], /skopeo version/),
  buildah: () => probe('buildah', ['--version'], /buildah version/),
  awscli: async () => {
    try {
      awsCliV2();
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  },
  htpasswd: async () => (existsSync('/usr/bin/htpasswd') ? undefined : probe('htpasswd', ['-nbB', 'u', 'p'], /^u:/)),
  busybox: async () => (existsSync('/bin/busybox') ? probe('/bin/busybox', ['true']) : '/bin/busybox not found (package busybox-static)'),
  igzip: () => probe('igzip', ['--version'], /igzip/),
};

const cache = new Map<ComponentName, Promise<string | undefined>>();

/** Why the component is unusable, or undefined when it works. Cached per process; never throws. */
export function checkComponent(name: ComponentName): Promise<string | undefined> {
  let p = cache.get(name);
  if (!p) {
    p = checks[name]().then((why) => (why === undefined ? undefined : `${name} unavailable: ${why}`));
    cache.set(name, p);
  }
  return p;
}

/**
 * Resolve to undefined when all components work. Otherwise: under CI=true throw (the test
 * fails — DESIGN.md §4: a missing component is never a silent skip in CI); outside CI resolve
 * to a skip reason for `t.skip(reason)`.
 */
export async function requireComponent(...names: ComponentName[]): Promise<string | undefined> {
  const reasons: string[] = [];
  for (const n of names) {
    const why = await checkComponent(n);
    if (why) reasons.push(why);
  }
  if (reasons.length === 0) return undefined;
  const msg = `${reasons.join('; ')} (run scripts/ensure-test-env.sh)`;
  if (process.env.CI === 'true') throw new Error(`required test component missing under CI=true: ${msg}`);
  return msg;
}

/** Convenience for node:test: `if (await skipUnless(t, 'docker')) return;` */
export async function skipUnless(t: { skip(message?: string): void }, ...names: ComponentName[]): Promise<boolean> {
  const why = await requireComponent(...names);
  if (why) {
    t.skip(why);
    return true;
  }
  return false;
}

// ------------------------------------------------------------------ cross-process lock

/**
 * Run fn while holding a cross-process lock (node --test runs files in parallel processes).
 * mkdir-based; a lock older than staleMs is considered abandoned. Bounded by timeoutMs.
 */
export async function withLock<T>(
  name: string,
  fn: () => Promise<T>,
  { timeoutMs = 180_000, staleMs = 300_000 }: { timeoutMs?: number; staleMs?: number } = {},
): Promise<T> {
  const dir = join(testStateDir(), 'locks');
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        if (Date.now() - statSync(lock).mtimeMs > staleMs) rmSync(lock, { recursive: true, force: true });
      } catch {
        /* raced with the holder releasing it */
      }
      if (Date.now() > deadline) throw new Error(`withLock(${name}): timed out after ${timeoutMs} ms (${lock})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
