// Parsed Dockerfile values. Words are kept unexpanded (raw, quotes included) where Docker
// substitutes variables at build time; the builder expands them with expandWord() once it knows
// the stage's ENV and ARG values.

import type { Directives, Heredoc } from './lex.ts';

export interface Location {
  file: string;
  line: number;
  column: number;
}

/** `["a","b"]` (exec form) or the raw text (shell form, run through the SHELL). */
export type CommandForm = { form: 'exec'; args: string[] } | { form: 'shell'; text: string };

export interface KeyValue {
  key: string;
  value: string;
}

interface Base {
  loc: Location;
  /** The instruction as written (continuations joined), e.g. for history `created_by`. */
  original: string;
}

export interface FromInstruction extends Base {
  kind: 'FROM';
  image: string;
  stageName?: string;
  platform?: string;
}

export interface RunInstruction extends Base {
  kind: 'RUN';
  command: CommandForm;
  flags: Record<string, string[]>;
  heredocs: Heredoc[];
}

export interface CopyInstruction extends Base {
  kind: 'COPY' | 'ADD';
  sources: string[];
  dest: string;
  /** Sources/dest came from the JSON form: no word splitting happened. */
  json: boolean;
  from?: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  parents: boolean;
  exclude: string[];
  checksum?: string;
  keepGitDir: boolean;
  heredocs: Heredoc[];
}

export interface CommandInstruction extends Base {
  kind: 'CMD' | 'ENTRYPOINT';
  command: CommandForm;
}

export interface PairsInstruction extends Base {
  kind: 'ENV' | 'LABEL';
  pairs: KeyValue[];
}

export interface ArgInstruction extends Base {
  kind: 'ARG';
  args: { name: string; default?: string }[];
}

export interface WordsInstruction extends Base {
  kind: 'EXPOSE' | 'VOLUME';
  words: string[];
}

export interface WordInstruction extends Base {
  kind: 'USER' | 'WORKDIR' | 'STOPSIGNAL' | 'MAINTAINER';
  value: string;
}

export interface ShellInstruction extends Base {
  kind: 'SHELL';
  shell: string[];
}

export interface OnbuildInstruction extends Base {
  kind: 'ONBUILD';
  /** The trigger as written, recorded in the image config. */
  expression: string;
  trigger: Instruction;
}

/** Durations in nanoseconds, as the image config stores them. */
export interface HealthcheckInstruction extends Base {
  kind: 'HEALTHCHECK';
  none: boolean;
  command?: CommandForm;
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  startInterval?: number;
  retries?: number;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CopyInstruction
  | CommandInstruction
  | PairsInstruction
  | ArgInstruction
  | WordsInstruction
  | WordInstruction
  | ShellInstruction
  | OnbuildInstruction
  | HealthcheckInstruction;

export interface Stage {
  from: FromInstruction;
  /** `FROM x AS name`, lowercased as Docker does. */
  name?: string;
  index: number;
  instructions: Instruction[];
}

export interface Dockerfile {
  file: string;
  directives: Directives;
  /** ARGs before the first FROM: usable in FROM lines only (unless re-declared in a stage). */
  globalArgs: ArgInstruction[];
  stages: Stage[];
}
