// Issue 6: every test's captured output and written files are scanned for the tokens, keys,
// session tokens and passwords that test used; any hit fails the suite.
//
// Importing this module (components.ts does, so every test file using the support code does)
// gives the test file, when it runs under node:test:
//   - its own TMPDIR (process.env.TMPDIR, also handed to children by cleanEnv): every temp dir
//     the file's helpers, tests and hoist processes make lands under one root, so "every file the
//     test wrote" is one tree to walk — no registration to forget;
//   - an afterEach hook that scans what is new since the last scan: outputs recorded by run() and
//     by the sandbox helpers, and new or changed files under the root and registered paths. It runs
//     before the test's own t.after cleanups (node:test order), so nothing is deleted unscanned;
//   - an after hook that scans the rest (before/after hooks' work) and prints one diagnostic line.
// Secrets come from every sandbox the file started (its --dir state, or the World in memory),
// from helpers that mint ID tokens, and from registerSecret(). A hit is an AssertionError naming
// where, with a fingerprint — never the secret.
//
// A test that puts a secret in a file on purpose (a --token-file, a docker config written by
// `hoist login`) says so: exemptFile(path, reason). Commands whose stdout is the secret by design
// are listed in secret-match.ts BY_DESIGN_STDOUT; their stderr is still scanned.

import { AssertionError } from 'node:assert';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { after, afterEach } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { WorldState } from '../../src/sandbox/world.ts';
import { emptyHarvest, findLeaks, harvestWorld, redact, type Harvest, type Leak, MIN_SECRET_LENGTH } from './secret-match.ts';

/** Larger files are not read (none of hoist's own files comes near it). */
const MAX_FILE_BYTES = 50_000_000;
/** Bounds one walk; more entries than this are counted as unwalked, not silently dropped. */
const MAX_ENTRIES_PER_WALK = 200_000;
const MAX_DEPTH = 40;

export interface ScanStats {
  secrets: number;
  sandboxes: number;
  outputs: number;
  outputBytes: number;
  files: number;
  fileBytes: number;
  gunzippedBytes: number;
  skippedLarge: number;
  skippedUnreadable: number;
  /** .gz files that did not decompress (e.g. corrupt on purpose): scanned as they are. */
  badGzip: number;
  unwalked: number;
  exempt: number;
  leaks: number;
}

/** Secrets, outputs and paths of one test file, and the scan over them. */
export class SecretScan {
  readonly stats: ScanStats = {
    secrets: 0, sandboxes: 0, outputs: 0, outputBytes: 0, files: 0, fileBytes: 0, gunzippedBytes: 0,
    skippedLarge: 0, skippedUnreadable: 0, badGzip: 0, unwalked: 0, exempt: 0, leaks: 0,
  };
  private readonly known = { secrets: new Map<string, string>(), hashes: new Set<string>(), jwks: new Map<string, Record<string, string>>() };
  /** Each reads one sandbox's issued secrets (undefined when its state is gone). */
  private readonly sources: (() => Harvest | undefined)[] = [];
  private pending: { where: string; text: string }[] = [];
  private readonly roots = new Set<string>();
  private readonly exemptions = new Map<string, string>();
  private readonly exemptPatterns: { test: (path: string) => boolean; reason: string }[] = [];
  /** path → size:mtime:ino of the version already scanned. */
  private readonly seen = new Map<string, string>();

  registerSecret(value: string, kind: string): void {
    if (value.length >= MIN_SECRET_LENGTH) this.known.secrets.set(value, kind);
  }

  /** A process sandbox's --dir: its state.json is read at every scan and on `refresh()` (call it when the process exits). */
  watchSandboxDir(dir: string): () => void {
    const stateFile = this.exemptState(dir);
    return this.addSource(() => {
      try {
        return harvestWorld(JSON.parse(readFileSync(stateFile, 'utf8')) as WorldState);
      } catch {
        return undefined; // not written yet, or removed by the test after an earlier refresh
      }
    });
  }

  /** An in-process sandbox: its World's state is read at every scan. `dir`: the World's --dir, if any. */
  watchWorld(state: () => WorldState, dir?: string): () => void {
    if (dir !== undefined) this.exemptState(dir);
    return this.addSource(() => harvestWorld(state()));
  }

  /** A sandbox's state.json holds what it issued by design; it is the one file of its --dir not scanned. */
  private exemptState(dir: string): string {
    const stateFile = resolve(dir, 'state.json');
    this.exemptFile(stateFile, 'the sandbox state holds the credentials it issued, by design (ECR passwords only as hashes)');
    this.exemptPatterns.push({
      test: (p) => p.startsWith(`${stateFile}.`) && p.endsWith('.tmp'),
      reason: 'state.json being replaced (writeFileAtomic temp)',
    });
    return stateFile;
  }

  recordOutput(where: string, text: string): void {
    if (text.length === 0) return;
    this.pending.push({ where, text });
  }

  /** Also scan this file or directory (outside the file's TMPDIR root). */
  scanPath(path: string): void {
    this.roots.add(resolve(path));
  }

  /** This exact file may hold a secret because the test put it there on purpose. */
  exemptFile(path: string, reason: string): void {
    if (reason.trim() === '') throw new Error('exemptFile needs a reason');
    this.exemptions.set(resolve(path), reason);
  }

  /** Scans everything new since the last call; returns the leaks. */
  check(): Leak[] {
    const harvest = this.harvest();
    const outputs = this.pending;
    this.pending = [];
    for (const o of outputs) {
      this.stats.outputs++;
      this.stats.outputBytes += o.text.length;
    }
    // Files are read one at a time as findLeaks pulls them, so memory stays at one file.
    const leaks = findLeaks(harvest, chain(outputs, this.newFiles()))
      .map((l) => ({ ...l, where: redact(l.where, harvest) }));
    return leaks;
  }

  private addSource(read: () => Harvest | undefined): () => void {
    this.sources.push(read);
    this.stats.sandboxes++;
    return () => this.absorb(read());
  }

  private absorb(h: Harvest | undefined): void {
    if (!h) return;
    for (const s of h.secrets) this.registerSecret(s.value, s.kind);
    for (const x of h.ecrPasswordHashes) this.known.hashes.add(x);
    for (const k of h.jwks) this.known.jwks.set(k.kid ?? JSON.stringify(k), k);
  }

  private harvest(): Harvest {
    for (const read of this.sources) this.absorb(read());
    const h = emptyHarvest();
    for (const [value, kind] of this.known.secrets) h.secrets.push({ value, kind });
    h.ecrPasswordHashes = [...this.known.hashes];
    h.jwks = [...this.known.jwks.values()];
    this.stats.secrets = h.secrets.length + h.ecrPasswordHashes.length;
    return h;
  }

  private exemptReason(path: string): string | undefined {
    return this.exemptions.get(path) ?? this.exemptPatterns.find((p) => p.test(path))?.reason;
  }

  private *newFiles(): Generator<{ where: string; text: string }> {
    for (const root of this.roots) {
      const budget = { left: MAX_ENTRIES_PER_WALK };
      yield* this.visit(root, 0, budget);
    }
  }

  private *visit(path: string, depth: number, budget: { left: number }): Generator<{ where: string; text: string }> {
    if (budget.left-- <= 0) return void this.stats.unwalked++;
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) {
      if (depth >= MAX_DEPTH) return void this.stats.unwalked++;
      for (const n of this.list(path)) yield* this.visit(join(path, n), depth + 1, budget);
      return;
    }
    if (!st.isFile()) return; // sockets, fifos, symlinks (their targets are scanned where they live)
    const sig = `${st.size}:${st.mtimeMs}:${st.ino}`;
    if (this.seen.get(path) === sig) return;
    this.seen.set(path, sig);
    if (this.exemptReason(path) !== undefined) return void this.stats.exempt++;
    if (st.size > MAX_FILE_BYTES) return void this.stats.skippedLarge++;
    yield* this.readForScan(path);
  }

  private list(dir: string): string[] {
    try {
      return readdirSync(dir);
    } catch {
      this.stats.skippedUnreadable++;
      return [];
    }
  }

  /** The file as latin1 text; a gzip file (image layers, archives) also decompressed, so an image holding a secret is caught. */
  private readForScan(path: string): { where: string; text: string }[] {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      this.stats.skippedUnreadable++;
      return [];
    }
    this.stats.files++;
    this.stats.fileBytes += bytes.length;
    const texts = [{ where: path, text: bytes.toString('latin1') }];
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
      try {
        const plain = gunzipSync(bytes, { maxOutputLength: 4 * MAX_FILE_BYTES });
        this.stats.gunzippedBytes += plain.length;
        texts.push({ where: `${path} (gunzipped)`, text: plain.toString('latin1') });
      } catch {
        this.stats.badGzip++;
      }
    }
    return texts;
  }
}

function* chain<T>(...parts: Iterable<T>[]): Generator<T> {
  for (const p of parts) yield* p;
}

export function formatLeaks(leaks: readonly Leak[], when: string): string {
  const lines = leaks.map((l) => `  - ${l.where}: ${l.kind} ${l.fingerprint}`);
  return `secret scan (${when}): ${leaks.length} secret(s) found where none may be:\n${lines.join('\n')}\n` +
    'If the test put a secret there on purpose, exempt that file with exemptFile(path, reason) (test/support/secret-scan.ts).';
}

export function formatStats(s: ScanStats, file: string, ms: number): string {
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return `secret scan ${file}: ${s.secrets} secrets from ${s.sandboxes} sandboxes; ${s.outputs} outputs (${mb(s.outputBytes)} MB); ` +
    `${s.files} files (${mb(s.fileBytes)} MB, +${mb(s.gunzippedBytes)} MB gunzipped); skipped ${s.skippedLarge} large, ` +
    `${s.skippedUnreadable} unreadable, ${s.badGzip} bad gzip, ${s.unwalked} unwalked; ${s.exempt} exempt; ${s.leaks} leaks; ${ms} ms`;
}

// ---- the test file's instance and hooks -------------------------------------------------

/** Only inside a node:test run (not when bench/ or scripts import the support code). */
const ACTIVE = process.env.NODE_TEST_CONTEXT !== undefined || /\.test\.[cm]?[jt]s$/.test(process.argv[1] ?? '');

export const secretScan = new SecretScan();
/** The root every temp dir of this test file lands under (process.env.TMPDIR while it runs). */
export let fileTmpRoot: string | undefined;

export const registerSecret = (value: string, kind: string): void => secretScan.registerSecret(value, kind);
export const exemptFile = (path: string, reason: string): void => secretScan.exemptFile(path, reason);
export const recordOutput = (where: string, text: string): void => secretScan.recordOutput(where, text);
/** Registers an in-process sandbox's World (tests that start one with startSandboxServer). */
export const watchWorld = (world: { state: WorldState }, dir?: string): void => void secretScan.watchWorld(() => world.state, dir);

if (ACTIVE) install();

function install(): void {
  const hostTmp = tmpdir();
  // The shared state dir (dockerd log, caches, locks) stays where scripts/ensure-test-env.sh keeps it.
  process.env.HOIST_TEST_STATE ??= join(process.env.TMPDIR ?? hostTmp, 'hoist-test');
  const name = basename(process.argv[1] ?? 'test').replace(/\.test\.[cm]?[jt]s$/, '').replace(/[^\w.-]/g, '_');
  fileTmpRoot = mkdtempSync(join(hostTmp, `hoist-file-${name}-`));
  process.env.TMPDIR = fileTmpRoot;
  secretScan.scanPath(fileTmpRoot);
  let spent = 0;
  const check = (): Leak[] => {
    const t0 = Date.now();
    const leaks = secretScan.check();
    spent += Date.now() - t0;
    secretScan.stats.leaks += leaks.length;
    return leaks;
  };
  const fail = (leaks: Leak[], when: string) => {
    if (leaks.length > 0) throw new AssertionError({ message: formatLeaks(leaks, when) });
  };
  afterEach(() => fail(check(), 'after the test'));
  after((t) => {
    const leaks = check();
    if ('diagnostic' in t) t.diagnostic(formatStats(secretScan.stats, name, spent));
    fail(leaks, 'end of file');
  });
  // Kept when anything failed (to look at); removed after a clean run, like tempHome().
  process.once('exit', (code) => {
    if (code === 0 && secretScan.stats.leaks === 0 && process.env.HOIST_TEST_KEEP_TMP !== '1') {
      try {
        rmSync(fileTmpRoot!, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
  });
}

