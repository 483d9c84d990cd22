// One docker CLI invocation: the program, the job's env (private DOCKER_CONFIG), redaction of
// every secret the builder has seen, output lines to the logger at debug level. Everything
// docker-specific about *running* lives here; what to run is docker-args.ts.

import { HoistError, isHoistError } from '../errors.ts';
import { exec, type ExecResult, type Runner } from '../exec/run.ts';
import { debug, type Logger } from '../log.ts';
import type { DockerEnv } from './docker-args.ts';

export interface DockerRun {
  args: string[];
  op: string;
  timeoutMs: number;
  env?: DockerEnv;
  stdin?: string;
  signal?: AbortSignal;
  onLine?: (line: string) => void;
}

export class DockerCli {
  readonly secrets: string[] = [];

  constructor(
    readonly program: string,
    readonly env: DockerEnv,
    private readonly runner: Runner = exec,
    private readonly logger?: Logger,
  ) {}

  async run(r: DockerRun): Promise<ExecResult> {
    try {
      return await this.runner({
        program: this.program,
        args: r.args,
        env: r.env ?? this.env,
        timeoutMs: r.timeoutMs,
        redact: this.secrets,
        op: r.op,
        ...(r.stdin !== undefined ? { stdin: r.stdin } : {}),
        ...(r.signal ? { signal: r.signal } : {}),
        onLine: (line, stream) => {
          r.onLine?.(line);
          if (this.logger && line.trim()) debug(this.logger, line, { op: r.op, stream });
        },
      });
    } catch (err) {
      throw this.#cliMissing(err);
    }
  }

  #cliMissing(err: unknown): unknown {
    if (!isHoistError(err, 'exec.not-found')) return err;
    return new HoistError(`the docker CLI (${this.program}) is not installed`, {
      code: 'docker.cli-missing',
      op: 'docker',
      hint: 'use an image with the docker CLI (e.g. docker:24.0 as the job image) or install it (apk add docker-cli / apt-get install docker.io)',
      context: { program: this.program },
      cause: err,
    });
  }
}
