// Command dispatch, usage and the error boundary. Runs in-process in tests: it touches
// the process only through Io.

import { bootstrapCommand } from './commands/bootstrap.ts';
import { buildCommand } from './commands/build.ts';
import { demoCommand } from './commands/demo.ts';
import { doctorCommand } from './commands/doctor.ts';
import { copyCommand } from './commands/copy.ts';
import { credentialsCommand } from './commands/credentials.ts';
import { initCommand } from './commands/init.ts';
import { credentialHelperCommand, loginCommand } from './commands/login.ts';
import { promoteCommand } from './commands/promote.ts';
import { pushCommand } from './commands/push.ts';
import { sandboxCommand } from './commands/sandbox.ts';
import type { Command, Io } from './io.ts';
import { EXIT, exitCodeFor, renderError, usageError } from './render.ts';

declare const HOIST_VERSION: string;
const VERSION = typeof HOIST_VERSION === 'string' ? HOIST_VERSION : '0.0.0-dev';

export const COMMANDS: readonly Command[] = [
  pushCommand, buildCommand, credentialsCommand, loginCommand, promoteCommand, copyCommand,
  doctorCommand, initCommand, bootstrapCommand, sandboxCommand, demoCommand, credentialHelperCommand,
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: hoist <command> [flags]',
    '',
    'Ship container images from CI to Amazon ECR: OIDC → STS → ECR login → repository → build → push.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Global flags: --help, --version, --debug (show error causes)',
    'Exit codes: 0 success, 1 the job failed, 2 bad flags or configuration, 130 interrupted.',
    '',
  ].join('\n');
}

export async function main(argv: string[], io: Io): Promise<number> {
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  try {
    const [name, ...rest] = args;
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      io.stdout(usage());
      return name === undefined ? EXIT.usage : EXIT.ok;
    }
    if (name === '--version' || name === '-v' || name === 'version') return io.stdout(`hoist ${VERSION}\n`), EXIT.ok;
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) throw usageError(`unknown command "${name}"`, 'Run `hoist --help` for the list of commands.');
    return await command.run(rest, io);
  } catch (err) {
    io.stderr(renderError(err, debug));
    return exitCodeFor(err);
  }
}

