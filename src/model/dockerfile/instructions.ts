// One parser per Dockerfile instruction: flags, JSON vs shell form, key=value pairs, heredocs.
// Works on a LogicalLine from lex.ts; errors point at the offending word's line and column.

import { positionOf, splitWords, syntaxError, type LogicalLine } from './lex.ts';
import type { CommandForm, Instruction, KeyValue, Location } from './types.ts';

export interface Ctx {
  file: string;
  escape: string;
  line: LogicalLine;
}

export function locOf(ctx: Ctx): Location {
  return { file: ctx.file, line: ctx.line.line, column: ctx.line.column };
}

/** Error at `offset` inside `rest` (undefined: at the keyword). */
export function errAt(ctx: Ctx, message: string, offset?: number, hint?: string): Error {
  const pos = offset === undefined ? { line: ctx.line.line, column: ctx.line.column } : positionOf(ctx.line, ctx.line.restOffset + offset);
  return syntaxError(ctx.file, pos.line, pos.column, `${ctx.line.keyword}: ${message}`, hint);
}

const FLAGS: Record<string, { value: string[]; bool: string[] }> = {
  FROM: { value: ['platform'], bool: [] },
  RUN: { value: ['mount', 'network', 'security'], bool: [] },
  COPY: { value: ['from', 'chown', 'chmod', 'exclude'], bool: ['link', 'parents'] },
  ADD: { value: ['chown', 'chmod', 'checksum', 'exclude'], bool: ['link', 'keep-git-dir'] },
  HEALTHCHECK: { value: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'], bool: [] },
};

/** Leading `--name=value` / `--name` words; returns them and the text after them. */
export function takeFlags(ctx: Ctx, rest: string): { flags: Record<string, string[]>; rest: string; offset: number } {
  const allowed = FLAGS[ctx.line.keyword] ?? { value: [], bool: [] };
  const flags: Record<string, string[]> = {};
  let offset = rest.length;
  for (const w of splitWords(rest, ctx.escape)) {
    if (!w.word.startsWith('--')) {
      offset = w.offset;
      break;
    }
    const eq = w.word.indexOf('=');
    const name = eq < 0 ? w.word.slice(2) : w.word.slice(2, eq);
    const isBool = allowed.bool.includes(name);
    if (!isBool && !allowed.value.includes(name)) throw errAt(ctx, `unknown flag: --${name}`, w.offset);
    if (eq < 0 && !isBool) throw errAt(ctx, `missing a value on flag: --${name}`, w.offset);
    const value = eq < 0 ? 'true' : unquote(w.word.slice(eq + 1));
    if (isBool && value !== 'true' && value !== 'false') throw errAt(ctx, `expecting boolean value for flag --${name}, not: ${value}`, w.offset);
    (flags[name] ??= []).push(value);
  }
  return { flags, rest: rest.slice(offset), offset };
}

function unquote(v: string): string {
  return /^(["']).*\1$/s.test(v) ? v.slice(1, -1) : v;
}

function single(ctx: Ctx, flags: Record<string, string[]>, name: string): string | undefined {
  const v = flags[name];
  if (v !== undefined && v.length > 1) throw errAt(ctx, `--${name} may be given only once`);
  return v?.[0];
}

/** `["a", "b"]` when `rest` is a JSON array of strings; undefined otherwise. */
export function parseJsonArray(rest: string): string[] | undefined {
  if (!rest.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(rest);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
  } catch {
    return undefined;
  }
}

function command(rest: string): CommandForm {
  const json = parseJsonArray(rest);
  return json === undefined ? { form: 'shell', text: rest } : { form: 'exec', args: json };
}

function requireArgs(ctx: Ctx, rest: string, what = 'at least one argument'): void {
  if (rest.trim() === '') throw errAt(ctx, `requires ${what}`);
}

function words(ctx: Ctx, rest: string): string[] {
  return splitWords(rest, ctx.escape).map((w) => w.word);
}

/** ENV/LABEL: `k=v k2="v 2"` or the legacy `k v with spaces`. */
function pairs(ctx: Ctx, rest: string): KeyValue[] {
  requireArgs(ctx, rest);
  const ws = splitWords(rest, ctx.escape);
  if (!ws[0]!.word.includes('=')) {
    const m = /^(\S+)\s+(.*)$/s.exec(rest);
    if (!m) throw errAt(ctx, `must have two arguments`, 0, `Use ${ctx.line.keyword} name=value`);
    return [{ key: ws[0]!.word, value: m[2]! }];
  }
  return ws.map((w) => {
    const eq = w.word.indexOf('=');
    if (eq <= 0) throw errAt(ctx, `syntax error - can't find = in "${w.word}". Must be of the form: name=value`, w.offset);
    return { key: w.word.slice(0, eq), value: w.word.slice(eq + 1) };
  });
}

const GO_UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go time.ParseDuration, in nanoseconds. */
export function parseGoDuration(s: string): number | undefined {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * GO_UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  return s === '' ? undefined : Math.round(total);
}

function duration(ctx: Ctx, flags: Record<string, string[]>, name: string): number | undefined {
  const raw = single(ctx, flags, name);
  if (raw === undefined) return undefined;
  const d = parseGoDuration(raw);
  if (d === undefined) throw errAt(ctx, `invalid duration for --${name}: ${raw}`, undefined, 'Use Go durations such as 30s, 1m30s, 500ms.');
  if (d !== 0 && d < 1e6) throw errAt(ctx, `--${name} cannot be less than 1ms`);
  return d;
}

function healthcheck(ctx: Ctx, rest: string, base: { loc: Location; original: string }): Instruction {
  const f = takeFlags(ctx, rest);
  requireArgs(ctx, f.rest);
  const m = /^(\S+)\s*(.*)$/s.exec(f.rest)!;
  const type = m[1]!.toUpperCase();
  if (type === 'NONE') {
    if (m[2] !== '' || Object.keys(f.flags).length > 0) throw errAt(ctx, 'HEALTHCHECK NONE takes no arguments or flags');
    return { ...base, kind: 'HEALTHCHECK', none: true };
  }
  if (type !== 'CMD') throw errAt(ctx, `unknown type "${m[1]}" in HEALTHCHECK (try CMD)`, f.offset);
  requireArgs(ctx, m[2]!, 'a command after CMD');
  const retriesRaw = single(ctx, f.flags, 'retries');
  const retries = retriesRaw === undefined ? undefined : Number(retriesRaw);
  if (retries !== undefined && !(Number.isInteger(retries) && retries >= 0)) throw errAt(ctx, `--retries must be a non-negative integer, got ${retriesRaw}`);
  const opt = {
    interval: duration(ctx, f.flags, 'interval'),
    timeout: duration(ctx, f.flags, 'timeout'),
    startPeriod: duration(ctx, f.flags, 'start-period'),
    startInterval: duration(ctx, f.flags, 'start-interval'),
    retries,
  };
  const defined = Object.fromEntries(Object.entries(opt).filter(([, v]) => v !== undefined));
  return { ...base, kind: 'HEALTHCHECK', none: false, command: command(m[2]!), ...defined };
}

function copy(ctx: Ctx, rest: string, base: { loc: Location; original: string }, kind: 'COPY' | 'ADD'): Instruction {
  const f = takeFlags(ctx, rest);
  const json = parseJsonArray(f.rest);
  const list = json ?? words(ctx, f.rest);
  if (list.length < 2) throw errAt(ctx, `requires at least two arguments, but got ${list.length}`, f.offset, `${kind} <src>... <dest>`);
  const out: Instruction = {
    ...base,
    kind,
    sources: list.slice(0, -1),
    dest: list[list.length - 1]!,
    json: json !== undefined,
    link: single(ctx, f.flags, 'link') === 'true',
    parents: single(ctx, f.flags, 'parents') === 'true',
    exclude: f.flags.exclude ?? [],
    keepGitDir: single(ctx, f.flags, 'keep-git-dir') === 'true',
    heredocs: ctx.line.heredocs,
  };
  for (const k of ['from', 'chown', 'chmod', 'checksum'] as const) {
    const v = single(ctx, f.flags, k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function from(ctx: Ctx, rest: string, base: { loc: Location; original: string }): Instruction {
  const f = takeFlags(ctx, rest);
  const ws = splitWords(f.rest, ctx.escape);
  const ok = ws.length === 1 || (ws.length === 3 && ws[1]!.word.toLowerCase() === 'as');
  if (!ok) throw errAt(ctx, 'requires either one or three arguments', f.offset, 'FROM [--platform=<platform>] <image> [AS <name>]');
  const out: Instruction = { ...base, kind: 'FROM', image: ws[0]!.word };
  if (ws.length === 3) {
    const name = ws[2]!.word.toLowerCase();
    if (!/^[a-z][a-z0-9-_.]*$/.test(name)) throw errAt(ctx, `invalid name for build stage: "${ws[2]!.word}", name can't start with a number or contain symbols`, f.offset + ws[2]!.offset);
    out.stageName = name;
  }
  const platform = single(ctx, f.flags, 'platform');
  if (platform !== undefined) out.platform = platform;
  return out;
}

function arg(ctx: Ctx, rest: string, base: { loc: Location; original: string }): Instruction {
  requireArgs(ctx, rest);
  const args = splitWords(rest, ctx.escape).map((w) => {
    const eq = w.word.indexOf('=');
    const name = eq < 0 ? w.word : w.word.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw errAt(ctx, `invalid ARG name "${name}"`, w.offset);
    return eq < 0 ? { name } : { name, default: w.word.slice(eq + 1) };
  });
  return { ...base, kind: 'ARG', args };
}

/** Parse one logical line. `onbuild` forbids what ONBUILD cannot trigger. */
export function parseInstruction(ctx: Ctx, parseNested: (text: string) => Instruction): Instruction {
  const base = { loc: locOf(ctx), original: ctx.line.original };
  const rest = ctx.line.rest;
  switch (ctx.line.keyword) {
    case 'FROM':
      return from(ctx, rest, base);
    case 'RUN': {
      const f = takeFlags(ctx, rest);
      requireArgs(ctx, f.rest);
      return { ...base, kind: 'RUN', command: command(f.rest), flags: f.flags, heredocs: ctx.line.heredocs };
    }
    case 'CMD':
    case 'ENTRYPOINT':
      return { ...base, kind: ctx.line.keyword, command: command(rest) };
    case 'ENV':
    case 'LABEL':
      return { ...base, kind: ctx.line.keyword, pairs: pairs(ctx, rest) };
    case 'ADD':
    case 'COPY':
      return copy(ctx, rest, base, ctx.line.keyword);
    case 'ARG':
      return arg(ctx, rest, base);
    case 'EXPOSE':
    case 'VOLUME': {
      requireArgs(ctx, rest);
      const json = ctx.line.keyword === 'VOLUME' ? parseJsonArray(rest) : undefined;
      return { ...base, kind: ctx.line.keyword, words: json ?? words(ctx, rest) };
    }
    case 'USER':
    case 'WORKDIR':
    case 'STOPSIGNAL':
    case 'MAINTAINER': {
      requireArgs(ctx, rest, 'exactly one argument');
      const ws = words(ctx, rest);
      if (ws.length !== 1 && ctx.line.keyword !== 'MAINTAINER' && ctx.line.keyword !== 'WORKDIR') throw errAt(ctx, 'requires exactly one argument');
      return { ...base, kind: ctx.line.keyword, value: ctx.line.keyword === 'USER' || ctx.line.keyword === 'STOPSIGNAL' ? ws[0]! : rest };
    }
    case 'SHELL': {
      const json = parseJsonArray(rest);
      if (json === undefined || json.length === 0) throw errAt(ctx, 'requires the arguments to be in JSON form', 0, 'SHELL ["/bin/sh", "-c"]');
      return { ...base, kind: 'SHELL', shell: json };
    }
    case 'HEALTHCHECK':
      return healthcheck(ctx, rest, base);
    case 'ONBUILD': {
      requireArgs(ctx, rest);
      const kw = /^\S+/.exec(rest)![0].toUpperCase();
      if (kw === 'ONBUILD') throw errAt(ctx, 'chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed', 0);
      if (kw === 'FROM' || kw === 'MAINTAINER') throw errAt(ctx, `${kw} isn't allowed as an ONBUILD trigger`, 0);
      return { ...base, kind: 'ONBUILD', expression: rest, trigger: parseNested(rest) };
    }
    default:
      throw errAt(ctx, `unknown instruction: ${ctx.line.keyword}`, undefined, 'Check the spelling; Dockerfile instructions are FROM, RUN, COPY, ADD, ENV, ARG, …');
  }
}
