// One error type for the whole library. The CLI is the only place that renders it
// (DESIGN §2): code for scripts, message for people, hint for the fix, cause for --debug.

export interface HoistErrorInit {
  /** Stable machine-readable code, e.g. `config.invalid`, `sts.access-denied`. */
  code: string;
  /** What hoist was doing, e.g. `AssumeRoleWithWebIdentity`. */
  op?: string;
  /** What to do about it. */
  hint?: string;
  /** Worth retrying as-is (throttling, 5xx, resets). */
  retryable?: boolean;
  /** Redacted key/value context: never secrets. */
  context?: Record<string, string | number | boolean>;
  /** Several problems reported together (configuration validation). */
  problems?: readonly Problem[];
  cause?: unknown;
}

/** One thing wrong with the input, tied to where it came from. */
export interface Problem {
  /** The variable, flag, file or line that holds the bad value. */
  source: string;
  message: string;
  hint?: string;
}

export class HoistError extends Error {
  readonly code: string;
  readonly op: string | undefined;
  readonly hint: string | undefined;
  readonly retryable: boolean;
  readonly context: Readonly<Record<string, string | number | boolean>>;
  readonly problems: readonly Problem[];

  constructor(message: string, init: HoistErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'HoistError';
    this.code = init.code;
    this.op = init.op;
    this.hint = init.hint;
    this.retryable = init.retryable ?? false;
    this.context = init.context ?? {};
    this.problems = init.problems ?? [];
  }
}

export function isHoistError(err: unknown, code?: string): err is HoistError {
  return err instanceof HoistError && (code === undefined || err.code === code);
}

/** Throws one error that lists every problem, so users fix them all in one go. */
export function assertNoProblems(problems: readonly Problem[], what: string): void {
  if (problems.length === 0) return;
  const noun = problems.length === 1 ? 'problem' : 'problems';
  throw new HoistError(`${what}: ${problems.length} ${noun}`, { code: 'config.invalid', problems });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
