// Flag parsing on node:util's parseArgs, with errors that name the flag and point at --help.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from './render.ts';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parse(command: string, argv: string[], options: Options, allowPositionals = false): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true,
    });
    return { values: values as Parsed['values'], positionals };
  } catch (err) {
    throw usageError(`${command}: ${(err as Error).message.replace(/\. To specify a positional.*$/s, '')}`, `Run \`hoist ${command} --help\` for the flags it takes.`);
  }
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function list(p: Parsed, name: string): string[] {
  const v = p.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

export function int(p: Parsed, name: string, range: [number, number]): number | undefined {
  const raw = str(p, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < range[0] || n > range[1]) {
    throw usageError(`--${name}: "${raw}" is not a whole number from ${range[0]} to ${range[1]}`);
  }
  return n;
}

export function oneOf<const T extends readonly string[]>(p: Parsed, name: string, choices: T): T[number] {
  const raw = str(p, name) ?? '';
  if (!choices.includes(raw)) throw usageError(`--${name}: "${raw}" is not one of ${choices.join(', ')}`);
  return raw as T[number];
}
