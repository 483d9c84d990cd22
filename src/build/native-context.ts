// The build context for the native builder: `.dockerignore` with Docker's pattern semantics
// (moby/patternmatcher: `*`, `?`, `[...]`, `**`, `!` exceptions, last match wins, a pattern
// matching a parent excludes its children) and the walk that lists what COPY may read.

import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { HoistError } from '../errors.ts';

export interface IgnorePattern {
  pattern: string;
  exclusion: boolean;
  re: RegExp;
}

const SPECIAL = new Set(['.', '+', '(', ')', '|', '{', '}', '$', '^']);

/** Path cleaning as Go's filepath.Clean, for relative slash paths. */
export function cleanPath(p: string): string {
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
    } else out.push(part);
  }
  const joined = out.join('/');
  return abs ? `/${joined}` : joined === '' ? '.' : joined;
}

export function compilePattern(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') i++;
        re += i + 1 >= pattern.length ? '.*' : '(.*/)?';
      } else re += '[^/]*';
    } else if (ch === '?') re += '[^/]';
    else if (SPECIAL.has(ch)) re += `\\${ch}`;
    else if (ch === '\\') {
      const n = pattern[i + 1];
      if (n === undefined) re += '\\\\';
      else {
        re += /[a-zA-Z0-9]/.test(n) ? n : `\\${n}`;
        i++;
      }
    } else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new Error(`syntax error in pattern ${pattern}`);
      const body = pattern.slice(i + 1, end).replace(/^\^/, '!');
      re += `[${body.startsWith('!') ? '^' + body.slice(1) : body}]`;
      i = end;
    } else re += ch;
  }
  return new RegExp(re + '$', 's');
}

/** Parse `.dockerignore` text as the docker CLI's dockerignore.ReadAll does. */
export function parseDockerignore(text: string): IgnorePattern[] {
  const out: IgnorePattern[] = [];
  for (const raw of text.split('\n')) {
    if (raw.startsWith('#')) continue;
    let p = raw.trim();
    if (p === '') continue;
    const exclusion = p.startsWith('!');
    if (exclusion) p = p.slice(1).trim();
    if (p === '') continue;
    p = cleanPath(p);
    if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
    try {
      out.push({ pattern: p, exclusion, re: compilePattern(p) });
    } catch (err) {
      throw new HoistError(`.dockerignore: bad pattern ${JSON.stringify(raw)}`, { code: 'build.dockerignore-invalid', op: 'read .dockerignore', cause: err });
    }
  }
  return out;
}

/** patternmatcher.MatchesOrParentMatches: is `file` (relative, slash-separated) excluded? */
export function isIgnored(patterns: readonly IgnorePattern[], file: string): boolean {
  let matched = false;
  const parts = file.split('/');
  for (const p of patterns) {
    if (p.exclusion !== matched) continue;
    let match = p.re.test(file);
    for (let i = 1; !match && i < parts.length; i++) match = p.re.test(parts.slice(0, i).join('/'));
    if (match) matched = !p.exclusion;
  }
  return matched;
}

export interface ContextFile {
  /** Relative to the context, slash-separated. */
  path: string;
  stat: Stats;
  /** Symlink target, as written. */
  linkname?: string;
}

export interface BuildContext {
  dir: string;
  /** Every file, dir and symlink COPY may read, sorted by path. */
  files: Map<string, ContextFile>;
}

/**
 * Walk the context, leaving out what `.dockerignore` excludes. Synchronous calls: a context of
 * tens of thousands of files costs microseconds per lstat this way, against a threadpool
 * round trip each when awaited one by one.
 */
export async function loadContext(dir: string): Promise<BuildContext> {
  const text = await readFile(join(dir, '.dockerignore'), 'utf8').catch(() => '');
  const patterns = parseDockerignore(text);
  const hasExceptions = patterns.some((p) => p.exclusion);
  const files = new Map<string, ContextFile>();
  const walk = (rel: string): void => {
    // Names are read as bytes: a name that is not UTF-8 would otherwise be decoded lossily
    // (U+FFFD) and then not be found again by lstat.
    const raw = readdirSync(rel === '' ? dir : join(dir, rel), { encoding: 'buffer' });
    const names: string[] = [];
    for (const bytes of raw) {
      const name = bytes.toString('utf8');
      if (Buffer.from(name, 'utf8').equals(bytes)) {
        names.push(name);
        continue;
      }
      const path = rel === '' ? name : `${rel}/${name}`;
      if (isIgnored(patterns, path)) continue;
      const shown = (rel === '' ? '' : `${rel}/`) + [...bytes].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
      throw new HoistError(`the build context holds a file whose name is not valid UTF-8: ${shown}`, {
        code: 'build.context-invalid', op: 'read build context',
        hint: 'Image layers store names as UTF-8 (PAX); rename the file, or exclude it in .dockerignore (match it with a wildcard, e.g. caf*).',
      });
    }
    names.sort();
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const stat = lstatSync(join(dir, path));
      const ignored = isIgnored(patterns, path);
      if (!ignored) files.set(path, stat.isSymbolicLink() ? { path, stat, linkname: readlinkSync(join(dir, path)) } : { path, stat });
      if (stat.isDirectory() && (!ignored || hasExceptions)) walk(path);
    }
  };
  walk('');
  return { dir, files };
}
