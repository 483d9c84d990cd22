import { readFile } from 'node:fs/promises';
import { doctor } from '../../api/doctor.ts';
import { createDockerBuilder } from '../../build/docker.ts';
import { checkPushConfig } from '../../config/push.ts';
import { type Check, exitCode, isTokenProblem, offlineDoctor, type PolicyFile, renderChecklist } from '../../doctor/index.ts';
import { HoistError } from '../../errors.ts';
import { list, parse, str, type Parsed } from '../args.ts';
import { AWS_OPTIONS, awsFlags } from '../aws-flags.ts';
import type { Command, Io } from '../io.ts';
import { configFile } from './push.ts';

const HELP = `Usage: hoist doctor [flags]

The seed's "Quick sanity checklist" and "Troubleshooting", automated. Each check says what it
saw and, when it fails, the fix:

  ✔/✖ CI/CD variables set and well formed (AWS_ROLE_ARN, AWS_REGION, ECR_REPOSITORY, …)
  ✔/✖ the ID token: present, a JWT, unexpired, audience sts.amazonaws.com (or what the
      provider lists), not the removed CI_JOB_JWT / CI_JOB_JWT_V2
  ✔/✖ an IAM OIDC provider exists for the token's issuer and lists its audience
  ✔/✖ the role exists and its trust policy admits this token — evaluated locally, naming the
      condition that fails and why (StringEquals with a wildcard, sub of another branch or a
      tag pipeline, audience mismatch, renamed project, wrong Federated provider ARN, …)
  ✔/✖ the role may do every ECR action push needs (ecr:CreateRepository only when hoist may
      create the repository), from iam:SimulatePrincipalPolicy, else the role's policy
      documents, else harmless probes with the assumed role
  ✔/✖ the repository exists or can be created; the registry accepts the ECR login
  ✔/✖ a builder is available: the Docker engine at DOCKER_HOST answers
  !   security review of the trust and permissions policies (the seed's "Security notes")

Online (default): configuration as for hoist push (flags > environment > hoist.yaml). IAM is
read with admin credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN)
when set; otherwise only what STS and the assumed role show is used, and IAM checks say 'skip'.
  --region R  --account ID  --role-arn ARN  --repository NAME  --endpoint-url URL
  --id-token-var NAME  --session-name S  --registry HOST  --config FILE  --no-create-repository

Offline (no AWS; chosen by --offline or any policy/claims file):
  --token FILE|-             the ID token (a JWT) from FILE or stdin; never printed
  --token-claims FILE        the token's claims as JSON, instead of a token
  --trust-policy FILE        the role's trust policy (JSON)
  --permissions-policy FILE  a permissions policy of the role (repeatable)
  --role-arn ARN --repository NAME --region R   what the role and repository are
  --create-repository        push should create the repository (needs ecr:CreateRepository)
  --audience AUD             the provider's client ID (default sts.amazonaws.com)
With only policy files, the security review runs alone.

Output: a checklist (✔ pass, ✖ fail with the fix under it, ! warning, - skipped) on stdout;
  --json   the checks as JSON: {"ok": bool, "checks": [{id, title, status, evidence, fix}]}

Exit codes: 0 every check passed (warnings and skips do not fail), 1 a check failed,
2 bad flags.
`;

const OPTIONS = {
  ...AWS_OPTIONS, repository: { type: 'string' }, token: { type: 'string' }, 'token-claims': { type: 'string' },
  'trust-policy': { type: 'string' }, 'permissions-policy': { type: 'string', multiple: true }, 'create-repository': { type: 'boolean' },
  'no-create-repository': { type: 'boolean' }, offline: { type: 'boolean' }, audience: { type: 'string', multiple: true }, json: { type: 'boolean' },
} as const;

async function readInput(path: string, io: Io, what: string): Promise<string> {
  if (path === '-') return io.stdin ? io.stdin() : '';
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new HoistError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { code: 'usage', hint: `Check the path given to --${what}.` });
  }
}

async function tokenInput(p: Parsed, io: Io): Promise<{ text: string; source: string } | undefined> {
  const path = str(p, 'token');
  if (path === undefined) return undefined;
  return { text: (await readInput(path, io, 'token')).trim(), source: path === '-' ? '--token - (stdin)' : `--token ${path}` };
}

async function claimsInput(p: Parsed, io: Io): Promise<{ value: Record<string, unknown>; source: string } | undefined> {
  const path = str(p, 'token-claims');
  if (path === undefined) return undefined;
  const text = await readInput(path, io, 'token-claims');
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    return { value: value as Record<string, unknown>, source: `--token-claims ${path}` };
  } catch (err) {
    throw new HoistError(`--token-claims ${path}: ${(err as Error).message}`, { code: 'usage', hint: 'Give the decoded claims as a JSON object, e.g. {"iss":"https://gitlab.com","aud":"sts.amazonaws.com","sub":"…"}.' });
  }
}

async function offline(p: Parsed, io: Io): Promise<Check[]> {
  const env = (k: string) => io.env[k]?.trim() || undefined;
  let token = await tokenInput(p, io);
  const claims = await claimsInput(p, io);
  const envToken = env('AWS_ID_TOKEN');
  if (!token && !claims && envToken) token = { text: envToken, source: 'AWS_ID_TOKEN (environment)' };
  const tokenProblems = !token && !claims && (env('CI_JOB_JWT') || env('CI_JOB_JWT_V2'))
    ? checkPushConfig({ env: io.env, flags: {} }).problems.filter(isTokenProblem) : [];
  const files = async (paths: string[], what: string): Promise<PolicyFile[]> =>
    Promise.all(paths.map(async (f) => ({ text: await readInput(f, io, what), source: f })));
  const trust = str(p, 'trust-policy');
  const roleArn = str(p, 'role-arn') ?? env('AWS_ROLE_ARN');
  const region = str(p, 'region') ?? env('AWS_REGION') ?? env('AWS_DEFAULT_REGION');
  const repository = str(p, 'repository') ?? env('ECR_REPOSITORY');
  const audiences = list(p, 'audience');
  return offlineDoctor({
    ...(token ? { token } : {}), ...(claims ? { claims } : {}), tokenProblems,
    ...(trust ? { trustPolicy: (await files([trust], 'trust-policy'))[0]! } : {}),
    permissionsPolicies: await files(list(p, 'permissions-policy'), 'permissions-policy'),
    ...(roleArn ? { roleArn } : {}), ...(region ? { region } : {}), ...(repository ? { repository } : {}),
    ...(audiences.length > 0 ? { audiences } : {}),
    createWanted: p.values['create-repository'] === true, nowMs: Date.now(),
  });
}

async function online(p: Parsed, io: Io): Promise<Check[]> {
  const token = await tokenInput(p, io);
  const repository = str(p, 'repository');
  return doctor({
    env: io.env,
    flags: { ...awsFlags(p), ...(repository ? { repository } : {}), ...(p.values['no-create-repository'] ? { createRepository: false } : {}) },
    ...(await configFile(p).then((file) => (file ? { file } : {}))),
    ...(token ? { token } : {}),
    builder: createDockerBuilder({ env: { ...io.env } }),
  });
}

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check the setup (token, OIDC provider, trust policy, permissions, repository, builder) and explain each failure',
  help: HELP,
  async run(argv, io) {
    const p = parse('doctor', argv, OPTIONS);
    if (p.values.help) return io.stdout(HELP), 0;
    const isOffline = p.values.offline === true || ['token-claims', 'trust-policy', 'permissions-policy'].some((k) => p.values[k] !== undefined);
    const checks = isOffline ? await offline(p, io) : await online(p, io);
    if (checks.length === 0) {
      throw new HoistError('doctor: nothing to check offline', { code: 'usage', hint: 'Give --token or --token-claims, --trust-policy and/or --permissions-policy.' });
    }
    const code = exitCode(checks);
    io.stdout(p.values.json ? JSON.stringify({ ok: code === 0, checks }, null, 2) + '\n' : renderChecklist(checks));
    return code;
  },
};
