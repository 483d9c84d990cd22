import { join } from 'node:path';
import { helperAnswer, storeHelper, storeLogin } from '../../api/login.ts';
import { openSession, registryLogin } from '../../api/session.ts';
import { resolveAwsConfig } from '../../config/credentials.ts';
import { parse, str } from '../args.ts';
import { AWS_HELP, AWS_OPTIONS, awsFlags } from '../aws-flags.ts';
import type { Command, Io } from '../io.ts';
import { configFile } from './push.ts';

const HELP = `Usage: hoist login [--docker-config DIR] [--credential-helper | --print-password] [flags]

Log other tools in to Amazon ECR with the job's OIDC identity: assume AWS_ROLE_ARN, get an
ECR authorization token, and
  (default)             store it in DIR/config.json (DIR: --docker-config, else $DOCKER_CONFIG,
                        else ~/.docker), merged with what is there, mode 0600
  --credential-helper   instead register docker-credential-hoist for the registry in that
                        config: docker then asks hoist for a fresh token on every pull and push,
                        so a long job never holds an expired one (put docker-credential-hoist
                        on PATH: npm installs it beside hoist)
  --print-password      print only the password, for: hoist login --print-password |
                        docker login --username AWS --password-stdin <registry>

The password never appears in process arguments or on stderr.

${AWS_HELP}`;

const HELPER_HELP = `Usage: docker-credential-hoist get|store|erase|list

A Docker credential helper (docker-credential-helpers protocol). \`get\` reads a registry on
stdin and answers fresh ECR credentials, assuming the role with the job's ID token each time.
Configure it with: hoist login --credential-helper.
`;

async function login(argv: string[], io: Io) {
  const p = parse('login', argv, { ...AWS_OPTIONS, 'docker-config': { type: 'string' }, 'credential-helper': { type: 'boolean' }, 'print-password': { type: 'boolean' } });
  const cfg = resolveAwsConfig({ env: io.env, flags: awsFlags(p), file: await configFile(p) }, 'hoist login');
  return { p, cfg };
}

export const loginCommand: Command = {
  name: 'login',
  summary: 'log docker (or anything) in to ECR with the job\'s OIDC identity; docker-credential-hoist',
  help: HELP,
  async run(argv, io) {
    if (argv.includes('--help') || argv.includes('-h')) return io.stdout(HELP), 0;
    const { p, cfg } = await login(argv, io);
    const ecr = await registryLogin(await openSession(cfg.aws, cfg.idToken));
    if (p.values['print-password']) {
      io.stdout(ecr.password.reveal() + '\n');
      return 0;
    }
    const dir = str(p, 'docker-config') ?? io.env.DOCKER_CONFIG ?? join(io.env.HOME ?? '.', '.docker');
    const file = p.values['credential-helper'] ? await storeHelper(dir, ecr.registry) : await storeLogin(dir, ecr);
    io.stdout(`${ecr.registry}\n`);
    io.stderr(`hoist login: ${p.values['credential-helper'] ? 'docker-credential-hoist registered' : 'logged in'} for ${ecr.registry} in ${file} (token until ${ecr.expiresAt.toISOString()})\n`);
    return 0;
  },
};

/** `docker-credential-hoist <verb>`: the bin wrapper runs `hoist credential-helper <verb>`. */
export const credentialHelperCommand: Command = {
  name: 'credential-helper',
  summary: 'the docker-credential-hoist protocol (get/store/erase/list)',
  help: HELPER_HELP,
  async run(argv, io) {
    const verb = argv[0];
    if (verb === 'get') {
      const server = (await readStdin(io)).trim();
      const cfg = resolveAwsConfig({ env: io.env, flags: {}, file: undefined }, 'docker-credential-hoist');
      const ecr = await registryLogin(await openSession(cfg.aws, cfg.idToken));
      io.stdout(helperAnswer(server, ecr) + '\n');
      return 0;
    }
    // Credentials are minted per call, never stored: store and erase have nothing to do.
    if (verb === 'store' || verb === 'erase') return 0;
    if (verb === 'list') return io.stdout('{}\n'), 0;
    io.stdout(HELPER_HELP);
    return verb === '--help' || verb === '-h' ? 0 : 2;
  },
};

async function readStdin(io: Io): Promise<string> {
  return io.stdin ? io.stdin() : '';
}
