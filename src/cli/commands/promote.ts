import { promote, promoteTarget, type PromoteOutcome } from '../../api/promote.ts';
import type { RegistryCredentials } from '../../registry/auth.ts';
import { list, parse, type Parsed } from '../args.ts';
import { AWS_OPTIONS } from '../aws-flags.ts';
import type { Command, Io } from '../io.ts';
import {
  ECR_HELP, REGISTRY_HELP, REGISTRY_OPTIONS, credentialsFrom, ecrCredentialsFor, stdinCredentials, transportOptions, wantsEcr,
} from '../registry-flags.ts';
import { usageError } from '../render.ts';

const HELP = `Usage: hoist promote REF --tag NEW [--tag NEW]... [flags]

Give an image that is already in a registry more tags, without rebuilding and without
moving a layer: hoist GETs the manifest of REF once (digest verified) and PUTs the same
bytes under each new tag. A tag that already names this digest is left alone (no PutImage
call), so promote is idempotent — also on ECR repositories with IMMUTABLE tags, where a tag
that names another image is reported as an error.

REF: HOST/REPO:TAG or HOST/REPO@sha256:... (docker:// optional), e.g.
  831955480324.dkr.ecr.ap-south-1.amazonaws.com/order-microservice:3f2c1a9

  --tag NEW              tag to add (repeatable)

Credentials (never printed):
  --creds-env VAR        VAR holds USER:PASSWORD for REF's registry
  --username U --password-stdin   the password on stdin
  --creds U:P            from argv (discouraged)

${REGISTRY_HELP}
${ECR_HELP}
Output: one line per tag, HOST/REPO:TAG@sha256:... ; --json for the whole report.
Exit codes: 0 tagged (or already tagged), 1 the registry refused, 2 bad flags.
`;

const OPTIONS = {
  ...AWS_OPTIONS, ...REGISTRY_OPTIONS, ecr: { type: 'boolean' }, tag: { type: 'string', multiple: true },
  creds: { type: 'string' }, 'creds-env': { type: 'string' }, username: { type: 'string' }, 'password-stdin': { type: 'boolean' },
} as const;

async function credentials(p: Parsed, io: Io, ref: string): Promise<RegistryCredentials | undefined> {
  const explicit = credentialsFrom(p, io, 'creds') ?? (await stdinCredentials(p, io));
  if (explicit || !wantsEcr(p, io)) return explicit;
  return ecrCredentialsFor(p, io, promoteTarget(ref).host, 'promote');
}

function report(o: PromoteOutcome): string {
  return o.tags.map((t) => `${t.ref}@${o.digest}\n`).join('');
}

export const promoteCommand: Command = {
  name: 'promote',
  summary: 'add tags to an image already in a registry (ECR included) without moving a layer',
  help: HELP,
  async run(argv, io) {
    const p = parse('promote', argv, OPTIONS, true);
    if (p.values.help) return io.stdout(HELP), 0;
    if (p.positionals.length !== 1) throw usageError('promote: expected one REF', 'Run `hoist promote --help`.');
    const ref = p.positionals[0]!;
    const creds = await credentials(p, io, ref);
    const outcome = await promote({ ref, tags: list(p, 'tag'), ...(creds ? { credentials: creds } : {}), ...(await transportOptions(p)) });
    if (p.values.json !== true && p.values.quiet !== true) {
      for (const t of outcome.tags) io.stderr(`hoist promote: ${t.tag} ${t.outcome === 'tagged' ? 'added' : 'already there'}\n`);
    }
    io.stdout(p.values.json === true ? JSON.stringify(outcome, null, 2) + '\n' : report(outcome));
    return 0;
  },
};
