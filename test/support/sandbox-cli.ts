// Runs `hoist sandbox` from the built bundle as a child process, the way a user runs it,
// and reads the export lines it prints when ready.
//
// Always on a --dir (a temp dir unless the caller gives one): the secret scan (issue 6) reads
// from its state.json every key, session token and ECR password hash the sandbox issued.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { recordOutput, secretScan } from './secret-scan.ts';

export const HOIST = resolve(import.meta.dirname, '..', '..', 'dist', 'hoist.js');

export interface SandboxProcess {
  url: string;
  registry: string;
  exports: Record<string, string>;
  child: ChildProcess;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** The value of `--name V` or `--name=V` in args. */
export function flagValue(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name) return args[i + 1];
    if (args[i]!.startsWith(`${name}=`)) return args[i]!.slice(name.length + 1);
  }
  return undefined;
}

export async function startSandboxProcess(args: string[] = [], timeoutMs = 20_000): Promise<SandboxProcess> {
  let dir = flagValue(args, '--dir');
  if (dir === undefined && !args.includes('--memory')) {
    dir = mkdtempSync(join(tmpdir(), 'hoist-sandbox-'));
    args = ['--dir', dir, ...args];
  }
  // An explicit --memory sandbox's credentials stay unknown to the scan (JWTs it signed too).
  const snapshot = dir !== undefined ? secretScan.watchSandboxDir(dir) : () => {};
  const log = flagValue(args, '--log');
  if (log !== undefined) secretScan.scanPath(log);
  const child = spawn(process.execPath, [HOIST, 'sandbox', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' },
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => void (err += c.toString()));
  // Its stdout is the root keys' export lines, by design; its stderr is scanned. The state is
  // read once more at exit, in case the test removes the dir before the next scan.
  child.once('exit', () => {
    snapshot();
    recordOutput(`stderr of \`hoist sandbox\` (pid ${child.pid})`, err);
  });
  const exports = await new Promise<Record<string, string>>((resolveExports, reject) => {
    const timer = setTimeout(() => reject(new Error(`sandbox not ready after ${timeoutMs} ms: ${err}`)), timeoutMs);
    child.once('exit', (code) => reject(new Error(`sandbox exited with ${code}: ${err}`)));
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const parsed = parseExports(out);
      if (parsed.HOIST_SANDBOX_REGISTRY) {
        clearTimeout(timer);
        resolveExports(parsed);
      }
    });
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stopWith = async (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    await exited;
  };
  return {
    url: exports.AWS_ENDPOINT_URL!,
    registry: exports.HOIST_SANDBOX_REGISTRY!,
    exports,
    child,
    stderr: () => err,
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
  };
}

export function parseExports(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/^export (\w+)=('(?:[^']|'\\'')*'|\S*)$/gm)) {
    const raw = m[2]!;
    env[m[1]!] = raw.startsWith("'") ? raw.slice(1, -1).replace(/'\\''/g, "'") : raw;
  }
  return env;
}
