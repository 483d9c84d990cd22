// Dockerfile lexing, as BuildKit's frontend/dockerfile/parser does it: parser directives at the
// top (`# escape=`, `# syntax=`, `# check=`), comments, line continuations with the escape char,
// heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`) and quote-aware word splitting. Pure: text in, values out.

import { HoistError } from '../../errors.ts';

export interface Directives {
  escape: '\\' | '`';
  syntax?: string;
  check?: string;
}

/** Where a character of a logical line came from, so errors point at the physical line/column. */
export interface Segment {
  offset: number;
  line: number;
  column: number;
}

export interface Heredoc {
  name: string;
  /** The body, with a trailing newline (as BuildKit keeps it). */
  content: string;
  /** `<<-`: leading tabs were stripped. */
  chomp: boolean;
  /** Quoted delimiter (`<<"EOF"`): no variable expansion in the body. */
  expand: boolean;
}

export interface LogicalLine {
  keyword: string;
  /** Everything after the keyword, continuations joined, leading whitespace removed. */
  rest: string;
  /** Offset of `rest` inside the joined text. */
  restOffset: number;
  /** The original text of the instruction (first physical line onwards, joined). */
  original: string;
  line: number;
  column: number;
  segments: Segment[];
  heredocs: Heredoc[];
}

export function syntaxError(file: string, line: number, column: number, message: string, hint?: string): HoistError {
  return new HoistError(`${file}:${line}:${column}: ${message}`, {
    code: 'dockerfile.syntax',
    op: 'parse Dockerfile',
    context: { file, line, column },
    ...(hint === undefined ? {} : { hint }),
  });
}

/** Line and column of `offset` in a logical line (offset relative to the joined text). */
export function positionOf(l: LogicalLine, offset: number): { line: number; column: number } {
  let seg = l.segments[0]!;
  for (const s of l.segments) if (s.offset <= offset) seg = s;
  return { line: seg.line, column: seg.column + (offset - seg.offset) };
}

const DIRECTIVE = /^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.*?)[ \t]*$/;

function readDirectives(lines: string[], file: string): { directives: Directives; start: number } {
  const d: Directives = { escape: '\\' };
  const seen = new Set<string>();
  let i = 0;
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i]!);
    if (!m) break;
    const name = m[1]!.toLowerCase();
    const value = m[2]!;
    if (!['escape', 'syntax', 'check'].includes(name)) break;
    if (seen.has(name)) throw syntaxError(file, i + 1, 1, `only one ${name} parser directive can be used`);
    seen.add(name);
    if (name === 'escape') {
      if (value !== '\\' && value !== '`') throw syntaxError(file, i + 1, 1, `invalid escape token '${value}' does not match ^[\\\\\`]$`, 'Use # escape=\\ or # escape=`');
      d.escape = value;
    } else if (name === 'syntax') d.syntax = value;
    else d.check = value;
  }
  return { directives: d, start: i };
}

const HEREDOC = /<<(-?)(["']?)([a-zA-Z_][a-zA-Z0-9_]*)\2/g;
const HEREDOC_KEYWORDS = new Set(['RUN', 'COPY', 'ADD']);

function continues(text: string, escape: string): string | undefined {
  const trimmed = text.replace(/[ \t\r]+$/, '');
  if (!trimmed.endsWith(escape)) return undefined;
  // An escaped escape char (`\\` at the end) does not continue the line.
  let n = 0;
  for (let k = trimmed.length - 1; k >= 0 && trimmed[k] === escape; k--) n++;
  return n % 2 === 1 ? trimmed.slice(0, -1) : undefined;
}

const isComment = (text: string): boolean => /^[ \t]*#/.test(text);
const isBlank = (text: string): boolean => /^[ \t\r]*$/.test(text);

/** Split a Dockerfile into directives and logical lines (one per instruction). */
export function lex(text: string, file = 'Dockerfile'): { directives: Directives; lines: LogicalLine[] } {
  const phys = text.replace(/^\uFEFF/, '').split('\n').map((l) => l.replace(/\r$/, ''));
  const { directives, start } = readDirectives(phys, file);
  const out: LogicalLine[] = [];
  let i = start;
  while (i < phys.length) {
    const first = phys[i]!;
    if (isComment(first) || isBlank(first)) {
      i++;
      continue;
    }
    const startLine = i + 1;
    const lead = first.length - first.trimStart().length;
    let joined = '';
    const segments: Segment[] = [];
    let cur: string | undefined = first.slice(lead);
    let col = lead + 1;
    for (;;) {
      segments.push({ offset: joined.length, line: i + 1, column: col });
      const cont = continues(cur, directives.escape);
      i++;
      if (cont === undefined) {
        joined += cur;
        break;
      }
      joined += cont;
      while (i < phys.length && (isComment(phys[i]!) || isBlank(phys[i]!))) i++;
      if (i >= phys.length) break;
      cur = phys[i]!;
      col = 1;
    }
    // A lone escape at the end of the file continues into nothing: no instruction (BuildKit ignores it).
    const m = /^(\S+)(\s*)/.exec(joined);
    if (m === null) continue;
    const keyword = m[1]!.toUpperCase();
    const restOffset = m[0].length;
    const rest = joined.slice(restOffset).replace(/\s+$/, '');
    const heredocs: Heredoc[] = [];
    if (HEREDOC_KEYWORDS.has(keyword)) {
      for (const h of rest.matchAll(HEREDOC)) {
        const body = readHeredoc(phys, i, h[3]!, h[1] === '-');
        if (body === undefined) throw syntaxError(file, startLine, lead + 1, `unterminated heredoc ${h[3]}`, `End the heredoc with a line containing only ${h[3]}`);
        heredocs.push({ name: h[3]!, content: body.content, chomp: h[1] === '-', expand: h[2] === '' });
        i = body.next;
      }
    }
    out.push({ keyword, rest, restOffset, original: joined, line: startLine, column: lead + 1, segments, heredocs });
  }
  return { directives, lines: out };
}

function readHeredoc(phys: string[], from: number, name: string, chomp: boolean): { content: string; next: number } | undefined {
  const body: string[] = [];
  for (let k = from; k < phys.length; k++) {
    const raw = phys[k]!;
    const l = chomp ? raw.replace(/^\t+/, '') : raw;
    if (l === name) return { content: body.map((b) => b + '\n').join(''), next: k + 1 };
    body.push(l);
  }
  return undefined;
}

/**
 * BuildKit's parseWords: split on whitespace, honouring quotes and the escape char, and keep
 * them in the words (variable expansion removes them later). Returns each word's offset too.
 */
export function splitWords(rest: string, escape: string): { word: string; offset: number }[] {
  const words: { word: string; offset: number }[] = [];
  let word = '';
  let start = -1;
  let quote = '';
  let blankOk = false;
  const push = (): void => {
    if (blankOk || word.length > 0) words.push({ word, offset: start });
    word = '';
    start = -1;
    blankOk = false;
  };
  for (let pos = 0; pos < rest.length; pos++) {
    let ch = rest[pos]!;
    if (quote === '') {
      if (/\s/.test(ch)) {
        if (start >= 0) push();
        continue;
      }
      if (start < 0) start = pos;
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
      } else if (ch === escape) {
        if (pos + 1 === rest.length) continue;
        word += ch;
        ch = rest[++pos]!;
      }
      word += ch;
      continue;
    }
    if (ch === quote) quote = '';
    else if (ch === escape && quote !== "'") {
      if (pos + 1 === rest.length) continue;
      word += ch;
      ch = rest[++pos]!;
    }
    word += ch;
  }
  if (start >= 0) push();
  return words;
}
