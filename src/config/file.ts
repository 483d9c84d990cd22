// hoist.yaml: the optional config file. Its keys are the `hoist push` flag names (one
// vocabulary to learn); lists take a YAML sequence or one string, `build-arg` and `label` also
// take a mapping. It is read with YAML's failsafe schema, so every scalar stays the text the
// user wrote: `account: 012345678901` keeps its leading zero and `tag: 3.0` stays "3.0".

import { LineCounter, type Node, type Pair, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { type Problem } from '../errors.ts';

export type FileValue = string | string[];

export interface FileEntry {
  value: FileValue;
  /** `hoist.yaml: repository`, the source named in problems. */
  source: string;
}

export type KeyShape = 'scalar' | 'list' | 'map';

export interface FileSettings {
  entries: Map<string, FileEntry>;
  problems: Problem[];
}

export function readConfigFile(path: string, text: string, keys: Readonly<Record<string, KeyShape>>): FileSettings {
  const lines = new LineCounter();
  const doc = parseDocument(text, { schema: 'failsafe', lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) return { entries: new Map(), problems: doc.errors.map((e) => syntaxProblem(path, e.message, lines.linePos(e.pos[0]).line)) };
  if (doc.contents === null) return { entries: new Map(), problems: [] };
  if (!isMap(doc.contents)) return { entries: new Map(), problems: [{ source: path, message: 'the file must be a mapping of settings, e.g. `repository: order-microservice`' }] };
  const settings: FileSettings = { entries: new Map(), problems: [] };
  for (const pair of doc.contents.items) readPair(pair, path, keys, lines, settings);
  return settings;
}

function syntaxProblem(path: string, message: string, line: number): Problem {
  return { source: `${path}:${line}`, message: `not valid YAML: ${message.split('\n')[0]}` };
}

function readPair(pair: Pair, path: string, keys: Readonly<Record<string, KeyShape>>, lines: LineCounter, out: FileSettings): void {
  const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
  const source = `${path}: ${key}`;
  const shape = Object.hasOwn(keys, key) ? keys[key] : undefined;
  if (shape === undefined) {
    const line = isScalar(pair.key) && pair.key.range ? lines.linePos(pair.key.range[0]).line : undefined;
    out.problems.push(unknownKey(key, source, line, Object.keys(keys)));
    return;
  }
  const value = valueOf(pair.value as Node | null, shape);
  if (typeof value === 'object' && !Array.isArray(value)) out.problems.push({ source, message: value.problem });
  else out.entries.set(key, { value, source });
}

function valueOf(node: Node | null, shape: KeyShape): FileValue | { problem: string } {
  if (node === null || (isScalar(node) && node.value === '' && shape !== 'scalar')) return shape === 'scalar' ? '' : [];
  if (isScalar(node)) return shape === 'scalar' ? String(node.value) : [String(node.value)];
  if (shape === 'scalar') return { problem: 'expected a single value, not a list or mapping' };
  if (isSeq(node) && node.items.every((i) => isScalar(i))) return node.items.map((i) => String((i as { value: unknown }).value));
  if (shape === 'map' && isMap(node) && node.items.every((p) => isScalar(p.key) && (p.value === null || isScalar(p.value)))) {
    return node.items.map((p) => `${String((p.key as { value: unknown }).value)}=${p.value === null ? '' : String((p.value as { value: unknown }).value)}`);
  }
  return { problem: shape === 'map' ? 'expected a mapping of NAME: value, or a list of NAME=value' : 'expected a list of strings' };
}

function unknownKey(key: string, source: string, line: number | undefined, known: string[]): Problem {
  const guess = known.find((k) => normalize(k) === normalize(key));
  const hint = guess === undefined ? `Known keys: ${known.join(', ')}.` : `Did you mean "${guess}"?`;
  return { source, message: `unknown key ${JSON.stringify(key)}${line === undefined ? '' : ` on line ${line}`}`, hint };
}

/** Folds the usual spellings together: roleArn, role_arn, ROLE-ARN, tags → role-arn, tag. */
function normalize(key: string): string {
  return key.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase().replaceAll('_', '-').replace(/s$/, '');
}
