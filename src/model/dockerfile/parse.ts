// parseDockerfile: text → stages of typed instructions (see types.ts). Pure; every error is a
// HoistError `dockerfile.syntax` whose context carries file, line and column.

import { lex, syntaxError, type LogicalLine } from './lex.ts';
import { parseInstruction, type Ctx } from './instructions.ts';
import type { ArgInstruction, Dockerfile, Instruction, Stage } from './types.ts';

function parseLine(file: string, escape: string, line: LogicalLine): Instruction {
  const ctx: Ctx = { file, escape, line };
  const nested = (text: string): Instruction => {
    const inner = lex(text, file).lines[0];
    if (inner === undefined) throw syntaxError(file, line.line, line.column, 'ONBUILD requires an instruction');
    const shifted: LogicalLine = { ...inner, line: line.line, column: line.column, segments: line.segments.map((s) => ({ ...s })), heredocs: line.heredocs };
    return parseLine(file, escape, shifted);
  };
  return parseInstruction(ctx, nested);
}

export function parseDockerfile(text: string, file = 'Dockerfile'): Dockerfile {
  const { directives, lines } = lex(text, file);
  const globalArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  const names = new Map<string, number>();
  for (const line of lines) {
    const ins = parseLine(file, directives.escape, line);
    if (ins.kind === 'FROM') {
      const stage: Stage = { from: ins, index: stages.length, instructions: [] };
      if (ins.stageName !== undefined) {
        const prev = names.get(ins.stageName);
        if (prev !== undefined) throw syntaxError(file, ins.loc.line, ins.loc.column, `duplicate stage name "${ins.stageName}" (first used by stage ${prev})`);
        names.set(ins.stageName, stages.length);
        stage.name = ins.stageName;
      }
      stages.push(stage);
      continue;
    }
    const current = stages[stages.length - 1];
    if (current === undefined) {
      if (ins.kind !== 'ARG') {
        throw syntaxError(file, ins.loc.line, ins.loc.column, `${ins.kind} before the first FROM: no build stage in current context`, 'Only ARG may come before FROM.');
      }
      globalArgs.push(ins);
      continue;
    }
    current.instructions.push(ins);
  }
  if (stages.length === 0) throw syntaxError(file, 1, 1, 'the Dockerfile has no FROM instruction', 'A Dockerfile starts with FROM <image> (or FROM scratch).');
  return { file, directives, globalArgs, stages };
}
