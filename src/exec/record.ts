// A Runner decorator that keeps an audit trail of what was started: program, argv, env and
// cwd — but only the length of stdin, since stdin is where secrets travel. Tests use it to
// prove a password never reached an argv; `--debug` output can use it to show commands.

import type { ExecRequest, ExecResult, Runner } from './run.ts';
import { exec } from './run.ts';

export interface RecordedCall {
  program: string;
  args: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /** Bytes written to stdin (0 when none); the content itself is never kept. */
  stdinBytes: number;
  code?: number;
  durationMs?: number;
}

export interface RecordingRunner extends Runner {
  readonly calls: RecordedCall[];
}

function stdinBytes(stdin: ExecRequest['stdin']): number {
  if (stdin === undefined) return 0;
  return typeof stdin === 'string' ? Buffer.byteLength(stdin) : stdin.byteLength;
}

export function recordingRunner(inner: Runner = exec): RecordingRunner {
  const calls: RecordedCall[] = [];
  const run = async (req: ExecRequest): Promise<ExecResult> => {
    const call: RecordedCall = {
      program: req.program,
      args: [...req.args],
      env: { ...req.env },
      ...(req.cwd !== undefined ? { cwd: req.cwd } : {}),
      stdinBytes: stdinBytes(req.stdin),
    };
    calls.push(call);
    const res = await inner(req);
    call.code = res.code;
    call.durationMs = res.durationMs;
    return res;
  };
  return Object.assign(run, { calls });
}
