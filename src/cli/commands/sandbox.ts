import { closeSync, openSync, writeSync } from 'node:fs';
import { requestSandboxToken, startSandbox } from '../../api/sandbox.ts';
import type { TokenRequest } from '../../sandbox/index.ts';
import { int, list, parse, str } from '../args.ts';
import type { Command, Io } from '../io.ts';
import { usageError } from '../render.ts';

const HELP = `Usage: hoist sandbox [flags]
       hoist sandbox token [flags]

Runs a local stand-in for AWS in the foreground: STS, IAM, the ECR API, an ECR-like
registry and a GitLab-like OIDC issuer, all on one port. Rehearse a pipeline offline:
the AWS CLI, the AWS SDKs, docker and hoist all work against it.

When ready it prints shell lines on stdout (eval them):
  AWS_ENDPOINT_URL, AWS_REGION, AWS_DEFAULT_REGION, HOIST_SANDBOX_REGISTRY, and the
  sandbox account's root credentials AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
  (valid only for this sandbox; use them for bootstrap and admin calls).

The default world is the seed pipeline's: account 831955480324 in ap-south-1, an IAM
OIDC provider for https://gitlab.com (client ID sts.amazonaws.com), and the role
gitlab-runner-ecr-role that trusts project_path:mygroup/myrepo:ref_type:branch:ref:*
with the seed's ECR push permissions on repository order-microservice.

Flags:
  --port N        port to listen on (default 4566; 0 picks a free one)
  --host ADDR     address to bind (default 127.0.0.1)
  --dir PATH      keep state and blobs in PATH (survives restarts)
  --memory        keep everything in memory (the default without --dir)
  --world FILE    start from the world described in FILE (JSON) instead of the seed's
  --empty         start with only the account and its root user
  --log FILE      append a JSON line per request to FILE (no secrets are logged)
  --throttle      enforce ECR's PutImage quota (10/s per account): ThrottlingException from
                  the API, 429 TOOMANYREQUESTS from the registry's manifest PUT, as ECR answers
  --credential-seconds N
                  rehearse credentials that expire mid-job: STS credentials (AssumeRole,
                  AssumeRoleWithWebIdentity) expire after min(DurationSeconds, N) seconds, and
                  the ECR tokens obtained with them no later. Expired credentials are refused
                  as AWS refuses them (ExpiredToken / ExpiredTokenException; registry 401 DENIED
                  "Your authorization token has expired"), and --log marks such requests
                  "expired":true. The root user's keys and its ECR tokens are not shortened.

hoist sandbox token — print one ID token signed by the sandbox's issuer, with GitLab's claims:
  --endpoint URL        the sandbox (default $AWS_ENDPOINT_URL, else http://127.0.0.1:4566)
  --project-path G/P    project (default mygroup/myrepo)
  --ref REF             branch or tag name (default master)
  --ref-type TYPE       branch or tag (default branch)
  --aud AUD             audience (default sts.amazonaws.com)
  --expires-in SECONDS  lifetime (default 300; --expires-in=-60 gives an expired token)
  --sub SUB             override the sub claim
  --claim KEY=VALUE     set any other claim (repeatable)

Example:
  hoist sandbox --dir .sandbox > sandbox.env &
  until [ -s sandbox.env ]; do sleep 0.2; done; . ./sandbox.env
  AWS_ID_TOKEN=$(hoist sandbox token --project-path mygroup/myrepo --ref master)
`;

export const sandboxCommand: Command = {
  name: 'sandbox',
  summary: 'run a local AWS stand-in (STS, IAM, ECR, registry, OIDC issuer) to rehearse pipelines',
  help: HELP,
  async run(argv, io) {
    if (argv[0] === 'token') return token(argv.slice(1), io);
    const p = parse('sandbox', argv, {
      port: { type: 'string' }, host: { type: 'string' }, dir: { type: 'string' }, memory: { type: 'boolean' },
      world: { type: 'string' }, empty: { type: 'boolean' }, log: { type: 'string' }, throttle: { type: 'boolean' },
      'credential-seconds': { type: 'string' },
    });
    if (p.values.help) return io.stdout(HELP), 0;
    if (p.values.memory && p.values.dir) throw usageError('sandbox: --dir and --memory exclude each other');
    if (p.values.empty && p.values.world) throw usageError('sandbox: --world and --empty exclude each other');
    const logFile = str(p, 'log');
    // Written synchronously, a line per request: a reader sees a request's line as soon as
    // its answer has left, so tests and tail -f never miss the latest requests.
    const logFd = logFile ? openSync(logFile, 'a', 0o600) : undefined;
    const sandbox = await startSandbox({
      host: str(p, 'host'), port: int(p, 'port', [0, 65535]) ?? 4566, dir: str(p, 'dir'),
      worldFile: str(p, 'world'), empty: p.values.empty === true, throttle: p.values.throttle === true,
      credentialSeconds: int(p, 'credential-seconds', [1, 43200]),
      ...(logFd !== undefined ? { log: (e) => void writeSync(logFd, JSON.stringify(e) + '\n') } : {}),
    });
    for (const [k, v] of Object.entries(sandbox.exports)) io.stdout(`export ${k}=${shellQuote(v)}\n`);
    io.stderr(`hoist sandbox: serving AWS APIs, registry and OIDC issuer on ${sandbox.url} (Ctrl-C to stop)\n`);
    await new Promise<void>((resolve) => io.signal.addEventListener('abort', () => resolve(), { once: true }));
    await sandbox.close();
    if (logFd !== undefined) closeSync(logFd);
    return 0;
  },
};

async function token(argv: string[], io: Io): Promise<number> {
  const p = parse('sandbox token', argv, {
    endpoint: { type: 'string' }, 'project-path': { type: 'string' }, ref: { type: 'string' },
    'ref-type': { type: 'string' }, aud: { type: 'string' }, 'expires-in': { type: 'string' },
    sub: { type: 'string' }, claim: { type: 'string', multiple: true },
  });
  if (p.values.help) return io.stdout(HELP), 0;
  const refType = str(p, 'ref-type');
  if (refType !== undefined && refType !== 'branch' && refType !== 'tag') {
    throw usageError(`sandbox token: --ref-type must be branch or tag, not "${refType}"`);
  }
  const req: TokenRequest = {
    projectPath: str(p, 'project-path'), ref: str(p, 'ref'), refType: refType as TokenRequest['refType'],
    aud: str(p, 'aud'), expiresIn: int(p, 'expires-in', [-86400 * 365, 86400 * 365]), sub: str(p, 'sub'),
    claims: parseClaims(list(p, 'claim')),
  };
  const endpoint = str(p, 'endpoint') ?? io.env.AWS_ENDPOINT_URL ?? 'http://127.0.0.1:4566';
  io.stdout((await requestSandboxToken(endpoint, req)) + '\n');
  return 0;
}

const TIME_CLAIMS = new Set(['exp', 'iat', 'nbf']);

function parseClaims(pairs: string[]): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usageError(`sandbox token: --claim "${pair}" is not KEY=VALUE`);
    const raw = pair.slice(eq + 1);
    const key = pair.slice(0, eq);
    // Time claims are numbers (RFC 7519 NumericDate); GitLab sends every other claim as a string.
    claims[key] = TIME_CLAIMS.has(key) && /^-?\d+$/.test(raw) ? Number(raw) : raw;
  }
  return claims;
}

export function shellQuote(v: string): string {
  return /^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}
