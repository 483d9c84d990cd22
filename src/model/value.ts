// Value types are parsed once, at the edge (DESIGN §2 "parse at the edge"): a parser returns
// either the value or a Problem that names where the raw text came from and how to fix it.
// Callers collect problems instead of throwing, so configuration reports every one at once.

import { HoistError, type Problem } from '../errors.ts';

declare const brand: unique symbol;

/** A string that has passed a parser: `Region` cannot be built from an arbitrary string by accident. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: Problem };

export function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function fail(source: string, message: string, hint?: string): { ok: false; problem: Problem } {
  return { ok: false, problem: hint === undefined ? { source, message } : { source, message, hint } };
}

/** For values the program itself writes (tests, constants): a bad one is a bug, so throw. */
export function orThrow<T>(parsed: Parsed<T>): T {
  if (parsed.ok) return parsed.value;
  const { source, message } = parsed.problem;
  throw new HoistError(`${source}: ${message}`, { code: 'config.invalid', problems: [parsed.problem], ...hintOf(parsed.problem) });
}

function hintOf(p: Problem): { hint?: string } {
  return p.hint === undefined ? {} : { hint: p.hint };
}

/** Keeps the value and moves a problem into `problems`: the collector style config uses. */
export function collect<T>(parsed: Parsed<T>, problems: Problem[]): T | undefined {
  if (parsed.ok) return parsed.value;
  problems.push(parsed.problem);
  return undefined;
}

/** `"x"` with JSON escapes, so whitespace and control characters in bad input are visible. */
export function quote(raw: string): string {
  return JSON.stringify(raw);
}
