// Variable substitution as Docker's shell lexer (frontend/dockerfile/shell) does it for ENV,
// ADD, COPY, WORKDIR, EXPOSE, LABEL, USER, VOLUME, STOPSIGNAL, FROM and ARG: `$a`, `${a}`,
// `${a:-b}`, `${a-b}`, `${a:+b}`, `${a+b}`, `${a:?msg}`, `${a?msg}`, with quote removal.

export type Vars = ReadonlyMap<string, string>;

export class ExpandError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

class Scanner {
  pos = 0;
  constructor(
    readonly s: string,
    readonly escape: string,
  ) {}
  peek(): string | undefined {
    return this.s[this.pos];
  }
  next(): string | undefined {
    return this.s[this.pos++];
  }
}

/**
 * Expand one word: quotes are removed, escapes resolved, variables substituted.
 * `quotes: false` keeps quote characters literal (heredoc bodies).
 */
export function expandWord(word: string, vars: Vars, escape = '\\', quotes = true): string {
  const sc = new Scanner(word, escape);
  return processUntil(sc, vars, quotes, undefined);
}

function processUntil(sc: Scanner, vars: Vars, quotes: boolean, stop: string | undefined): string {
  let out = '';
  for (;;) {
    const ch = sc.peek();
    if (ch === undefined || ch === stop) return out;
    if (quotes && ch === "'") out += single(sc);
    else if (quotes && ch === '"') out += double(sc, vars);
    else if (ch === '$') out += dollar(sc, vars);
    else {
      sc.next();
      if (ch === sc.escape) {
        const n = sc.next();
        if (n !== undefined) out += n;
      } else out += ch;
    }
  }
}

function single(sc: Scanner): string {
  const at = sc.pos;
  sc.next();
  let out = '';
  for (;;) {
    const ch = sc.next();
    if (ch === undefined) throw new ExpandError('unexpected end of statement while looking for matching single-quote', at);
    if (ch === "'") return out;
    out += ch;
  }
}

function double(sc: Scanner, vars: Vars): string {
  const at = sc.pos;
  sc.next();
  let out = '';
  for (;;) {
    const ch = sc.peek();
    if (ch === undefined) throw new ExpandError('unexpected end of statement while looking for matching double-quote', at);
    if (ch === '"') {
      sc.next();
      return out;
    }
    if (ch === '$') {
      out += dollar(sc, vars);
      continue;
    }
    sc.next();
    if (ch === sc.escape) {
      const n = sc.peek();
      if (n === undefined) continue;
      if (n === '"' || n === '$' || n === sc.escape) {
        out += sc.next();
        continue;
      }
    }
    out += ch;
  }
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

function readName(sc: Scanner): string {
  let name = '';
  const first = sc.peek();
  if (first !== undefined && /[0-9]/.test(first)) return sc.next()!;
  while (sc.peek() !== undefined && NAME_CHAR.test(sc.peek()!)) name += sc.next();
  return name;
}

function dollar(sc: Scanner, vars: Vars): string {
  const at = sc.pos;
  sc.next();
  const ch = sc.peek();
  if (ch === '{') {
    sc.next();
    return braced(sc, vars, at);
  }
  if (ch === undefined || !(NAME_START.test(ch) || /[0-9]/.test(ch))) return '$';
  return vars.get(readName(sc)) ?? '';
}

function braced(sc: Scanner, vars: Vars, at: number): string {
  const name = readName(sc);
  if (name === '') throw new ExpandError(`bad substitution: missing variable name after \${`, at);
  let op = sc.next();
  if (op === '}') return vars.get(name) ?? '';
  if (op === undefined) throw new ExpandError(`missing '}' in substitution of ${name}`, at);
  const colon = op === ':';
  if (colon) op = sc.next();
  if (op !== '-' && op !== '+' && op !== '?') {
    throw new ExpandError(`unsupported modifier (${colon ? ':' : ''}${op ?? 'end of word'}) in substitution of ${name}`, at);
  }
  const word = processUntil(sc, vars, true, '}');
  if (sc.next() !== '}') throw new ExpandError(`missing '}' in substitution of ${name}`, at);
  const value = vars.get(name);
  const set = colon ? value !== undefined && value !== '' : value !== undefined;
  if (op === '-') return set ? value! : word;
  if (op === '+') return set ? word : '';
  if (!set) throw new ExpandError(`${name}: ${word || 'is not allowed to be unset'}`, at);
  return value!;
}

/** Names a word refers to (for "build arg was not consumed" style checks). */
export function referencedNames(word: string): string[] {
  return [...word.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
}
