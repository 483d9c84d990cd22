// A real CNCF distribution registry (Debian package docker-registry) on a free loopback port,
// filesystem storage in a temp dir, deletes enabled, optional htpasswd (bcrypt) Basic auth.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { cleanEnv, runOk } from './components.ts';
import { registerSecret } from './secret-scan.ts';

export interface RegistryUser {
  username: string;
  password: string;
}

export interface CncfRegistry {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT — for image references (docker://HOST/repo:tag). */
  host: string;
  port: number;
  auth: 'none' | 'basic';
  /** Users accepted under auth 'basic' (one by default). */
  users?: RegistryUser[];
  /** Temp dir holding config.yml, htpasswd, data/ and registry.log. */
  dir: string;
  /** Registry output so far (for failure messages). */
  log(): string;
  /** Kill the registry (bounded) and remove its temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface StartCncfRegistryOptions {
  auth?: 'none' | 'basic';
  /** Users for Basic auth (default: one random user). */
  users?: RegistryUser[];
  /** Bound on start-up (default 20 s). */
  timeoutMs?: number;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

async function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

async function startOnce(opts: Required<Pick<StartCncfRegistryOptions, 'auth' | 'timeoutMs'>> & { users?: RegistryUser[] }): Promise<CncfRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;

  let users: RegistryUser[] | undefined;
  let authYaml = '';
  if (opts.auth === 'basic') {
    users = opts.users ?? [{ username: 'hoist', password: randomBytes(12).toString('hex') }];
    for (const u of users) {
      registerSecret(u.password, 'registry password');
      registerSecret(Buffer.from(`${u.username}:${u.password}`).toString('base64'), 'registry Basic credentials');
    }
    const lines: string[] = [];
    for (const u of users) {
      // -nbB: print to stdout, password on the command line, bcrypt (the only hash distribution accepts)
      const r = await runOk('htpasswd', ['-nbB', '-C', '5', u.username, u.password], { timeoutMs: 20_000 });
      lines.push(r.stdout.trim());
    }
    writeFileSync(join(dir, 'htpasswd'), lines.join('\n') + '\n', { mode: 0o600 });
    authYaml = `auth:\n  htpasswd:\n    realm: hoist-test\n    path: ${join(dir, 'htpasswd')}\n`;
  }

  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: ${join(dir, 'data')}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: ${host}
  headers:
    X-Content-Type-Options: [nosniff]
${authYaml}`,
  );

  const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], {
    env: cleanEnv({}, { home: dir }),
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let output = '';
  const keep = (b: Buffer): void => {
    output += b.toString('utf8');
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await waitExit(child, 5_000))) {
        child.kill('SIGKILL');
        await waitExit(child, 5_000);
      }
    }
    live.delete(child);
    rmSync(dir, { recursive: true, force: true });
  };

  // Wait until /v2/ answers (200 without auth, 401 with auth).
  const deadline = Date.now() + opts.timeoutMs;
  let lastErr = '';
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const e = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]);
      await stop();
      throw new Error(`docker-registry exited early (${e?.message ?? child.exitCode ?? child.signalCode}):\n${output.slice(-3000)}`);
    }
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      const okStatus = opts.auth === 'basic' ? 401 : 200;
      if (res.status === okStatus) break;
      lastErr = `HTTP ${res.status}`;
    } catch (e) {
      lastErr = (e as Error).message;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not answer on ${url}/v2/ within ${opts.timeoutMs} ms (${lastErr}):\n${output.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return { url, host, port, auth: opts.auth, users, dir, log: () => output, stop };
}

/**
 * Start `docker-registry serve config.yml` on a free 127.0.0.1 port and wait until /v2/ answers.
 * Retries (bounded) when the chosen port was taken in the meantime. Always `stop()` it (e.g. in
 * `after`/`t.after`); a process-exit hook kills leftovers.
 */
export async function startCncfRegistry(opts: StartCncfRegistryOptions = {}): Promise<CncfRegistry> {
  const full = { auth: opts.auth ?? 'none', timeoutMs: opts.timeoutMs ?? 20_000, users: opts.users };
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(full);
    } catch (e) {
      last = e;
      if (!/address already in use/i.test((e as Error).message)) throw e;
    }
  }
  throw last;
}
