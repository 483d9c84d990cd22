import { bootstrap, type BootstrapOutcome } from '../../api/bootstrap.ts';
import { DEFAULTS } from '../../generate/index.ts';
import { parse, str } from '../args.ts';
import type { Command } from '../io.ts';
import { usageError } from '../render.ts';
import { initInput, OPTIONS as INIT_OPTIONS } from './init.ts';

const HELP = `Usage: hoist bootstrap --project-path G/P --repository NAME --branch B --account ID --region R [flags]

Create the AWS side of the pipeline (the seed's Prerequisites 1–3) with an administrator's
credentials, idempotently:

  oidc-provider  the IAM OIDC provider for the issuer (default ${DEFAULTS.issuer}), with the
                 audience as a client ID (added when missing)
  role           the role (default ${DEFAULTS.roleName}) with the trust policy hoist init writes to
                 iam/trust-policy.json (replaced when it differs)
  role-policy    the inline least-privilege permissions policy (default name ${DEFAULTS.policyName};
                 replaced when it differs)
  repository     the ECR repository

Each resource is reported as create, update or unchanged; a second run changes nothing.

Flags (the policy flags are hoist init's, so both produce the same documents):
  --project-path G/P  --repository NAME  --branch B  (required)
  --account ID        default AWS_ACCOUNT_ID; the credentials must belong to this account
  --region R          default AWS_REGION / AWS_DEFAULT_REGION
  --role-name NAME  --policy-name NAME  --issuer URL  --audience AUD (default sts.amazonaws.com)
  --tags  --project-id ID  --namespace-id ID  --create-repository   (as for hoist init)
  --endpoint-url URL  AWS endpoint (default AWS_ENDPOINT_URL), e.g. hoist sandbox
  --dry-run           print the plan; change nothing
  --json              the plan/result as JSON on stdout

Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN from the
environment, nothing else (no profiles, no instance metadata).

Exit codes: 0 done (or planned), 1 an AWS call failed, 2 bad or missing flags or credentials.
`;

const BOOTSTRAP_KEYS = [
  'project-path', 'repository', 'account', 'region', 'branch', 'role-name', 'policy-name', 'tags', 'create-repository',
  'project-id', 'namespace-id', 'issuer', 'audience',
] as const;

const OPTIONS = {
  ...Object.fromEntries(BOOTSTRAP_KEYS.map((k) => [k, INIT_OPTIONS[k]])),
  'endpoint-url': { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' },
} as const;

export const bootstrapCommand: Command = {
  name: 'bootstrap',
  summary: 'create the OIDC provider, role, policies and repository in AWS (idempotent, --dry-run)',
  help: HELP,
  async run(argv, io) {
    const p = parse('bootstrap', argv, OPTIONS);
    if (p.values.help) return io.stdout(HELP), 0;
    const env = io.env;
    const region = str(p, 'region') ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    const input = { ...initInput(p), account: str(p, 'account') ?? env.AWS_ACCOUNT_ID, region };
    const accessKeyId = env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) {
      throw usageError('bootstrap: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set',
        'Export an administrator\'s credentials (e.g. eval "$(aws configure export-credentials --format env)").');
    }
    const endpoint = str(p, 'endpoint-url') ?? env.AWS_ENDPOINT_URL;
    const outcome = await bootstrap({
      input,
      target: { region: region ?? 'us-east-1', ...(endpoint ? { endpoint } : {}) },
      credentials: { accessKeyId, secretAccessKey, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) },
      dryRun: p.values['dry-run'] === true,
    });
    io.stdout(p.values.json ? JSON.stringify(outcome, null, 2) + '\n' : report(outcome));
    io.stderr(summary(outcome));
    return 0;
  },
};

function report(o: BootstrapOutcome): string {
  const kind = Math.max(...o.changes.map((c) => c.kind.length));
  const id = Math.max(...o.changes.map((c) => c.id.length));
  const verb = (a: string) => (o.dryRun && a !== 'unchanged' ? `would ${a}` : a === 'unchanged' ? a : `${a}d`);
  return o.changes.map((c) => `${c.kind.padEnd(kind)}  ${c.id.padEnd(id)}  ${verb(c.action)}${c.detail ? ` (${c.detail})` : ''}\n`).join('');
}

function summary(o: BootstrapOutcome): string {
  const pending = o.changes.filter((c) => c.action !== 'unchanged').length;
  if (pending === 0) return 'hoist bootstrap: everything is already in place; nothing changed.\n';
  if (o.dryRun) return `hoist bootstrap: dry run: ${pending} change(s) planned, nothing was changed.\n`;
  return `hoist bootstrap: ${pending} change(s) made. Jobs can now assume ${o.roleArn}.\n`;
}
