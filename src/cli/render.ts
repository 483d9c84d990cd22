// The one place that turns errors into output and exit codes (DESIGN §2).

import { HoistError } from '../errors.ts';

export const EXIT = {
  ok: 0,
  /** The job failed: AWS, the registry or the build said no. */
  failure: 1,
  /** Bad input: flags, variables, files. Nothing was changed. */
  usage: 2,
  interrupted: 130,
} as const;

export function exitCodeFor(err: unknown): number {
  if (err instanceof HoistError && (err.code === 'usage' || err.code.startsWith('config.'))) return EXIT.usage;
  return EXIT.failure;
}

export function renderError(err: unknown, debug: boolean): string {
  const lines: string[] = [];
  if (err instanceof HoistError) {
    lines.push(`error: ${err.message}`);
    for (const p of err.problems) {
      lines.push(`  - ${p.source}: ${p.message}`);
      if (p.hint) lines.push(`    fix: ${p.hint}`);
    }
    if (err.hint) lines.push(`  fix: ${err.hint}`);
    if (debug) lines.push(...debugLines(err));
  } else {
    lines.push(`error: ${err instanceof Error ? err.message : String(err)}`);
    if (debug && err instanceof Error && err.stack) lines.push(err.stack);
  }
  return lines.join('\n') + '\n';
}

function debugLines(err: HoistError): string[] {
  const out = [`  code: ${err.code}${err.op ? ` (during ${err.op})` : ''}${err.retryable ? ', retryable' : ''}`];
  for (const [k, v] of Object.entries(err.context)) out.push(`  ${k}: ${v}`);
  let cause: unknown = err.cause;
  for (let depth = 0; cause !== undefined && depth < 8; depth++) {
    out.push(`  caused by: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return out;
}

export function usageError(message: string, hint?: string): HoistError {
  return new HoistError(message, { code: 'usage', ...(hint ? { hint } : {}) });
}
