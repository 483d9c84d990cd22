import { createInterface } from 'node:readline/promises';
import { init, type InitOutcome } from '../../api/init.ts';
import { BUILDERS, DEFAULTS, REQUIRED, missingRequired, roleArnOf, type InitInput } from '../../generate/index.ts';
import { parse, str, type Parsed } from '../args.ts';
import type { Command, Io } from '../io.ts';
import { usageError } from '../render.ts';

const HELP = `Usage: hoist init [flags]

Generate everything a project needs to ship images to Amazon ECR from GitLab CI with hoist:

  .gitlab-ci.yml               a build-and-push job running \`hoist push\` with the seed's variables,
                               id_tokens (aud sts.amazonaws.com), interruptible, retry: 1, rules for
                               the release branch (and Git tags), artifacts:reports:dotenv hoist.env
  templates/hoist-push.yml     the same job as a GitLab CI/CD component (spec: inputs:)
  iam/trust-policy.json        trust policy: the gitlab.com OIDC provider, aud, and sub pinned to the
                               project and branch (StringLike only when a wildcard is used)
  iam/permissions-policy.json  least privilege: ecr:GetAuthorizationToken on *, the seed's push/pull
                               actions on the repository ARN only
  iam/main.tf                  Terraform: OIDC provider, role, inline policy, repository (reads the JSON)

Apply the iam/ files with \`hoist bootstrap\` (same flags) or \`terraform apply\` in iam/.

Required (asked for in a terminal when missing; with --yes or without a terminal, missing ones are an error):
  --project-path G/P     GitLab project path (group/subgroup/project)
  --repository NAME      ECR repository
  --account ID           AWS account ID (12 digits)
  --region R             AWS region, e.g. ap-south-1
  --branch B             branch that publishes (release/* for a family of branches)

Optional:
  --role-name NAME       IAM role (default ${DEFAULTS.roleName})
  --policy-name NAME     inline permissions policy name (default ${DEFAULTS.policyName})
  --builder B            docker (DinD service, default) | native (daemonless, no privileged runner) | auto
  --tags                 also publish Git tags (rule if: $CI_COMMIT_TAG, image tag = the Git tag;
                         the trust policy admits ref_type:tag)
  --image-tag TAG        IMAGE_TAG for branch pipelines (default $CI_COMMIT_SHA)
  --test-stage           add a test stage before the build (--test-image, default
                         ${DEFAULTS.testImage}; --test-command, default "${DEFAULTS.testCommand}")
  --create-repository    let the job create the repository (grants ecr:CreateRepository on its ARN);
                         without it the job is told --no-create-repository
  --project-id ID        also pin gitlab.com:project_id (survives renames; gitlab.com only)
  --namespace-id ID      also pin gitlab.com:namespace_id (gitlab.com only)
  --issuer URL           OIDC issuer (default ${DEFAULTS.issuer}; self-managed: your instance URL)
  --audience AUD         ID token audience (default sts.amazonaws.com)
  --hoist-package SPEC   npm package the job installs when the image lacks hoist (default ${DEFAULTS.hoistPackage})
  --dir PATH             project directory (default .)
  --force                overwrite files that differ (default: show a diff and leave them alone)
  --yes, -y              never prompt

Exit codes: 0 every file written or already up to date, 1 some files differ and were left
alone (diffs on stdout; rerun with --force), 2 bad or missing flags (all listed).
`;

export const OPTIONS = {
  'project-path': { type: 'string' }, repository: { type: 'string' }, account: { type: 'string' }, region: { type: 'string' },
  branch: { type: 'string' }, 'role-name': { type: 'string' }, 'policy-name': { type: 'string' }, builder: { type: 'string' },
  tags: { type: 'boolean' }, 'image-tag': { type: 'string' }, 'test-stage': { type: 'boolean' }, 'test-image': { type: 'string' },
  'test-command': { type: 'string' }, 'create-repository': { type: 'boolean' }, 'project-id': { type: 'string' },
  'namespace-id': { type: 'string' }, issuer: { type: 'string' }, audience: { type: 'string' }, 'hoist-package': { type: 'string' },
  dir: { type: 'string' }, force: { type: 'boolean' }, yes: { type: 'boolean', short: 'y' },
} as const;

export function initInput(p: Parsed): InitInput {
  return {
    projectPath: str(p, 'project-path'), repository: str(p, 'repository'), account: str(p, 'account'), region: str(p, 'region'),
    branch: str(p, 'branch'), roleName: str(p, 'role-name'), policyName: str(p, 'policy-name'), builder: str(p, 'builder'),
    tags: p.values.tags === true, imageTag: str(p, 'image-tag'), testStage: p.values['test-stage'] === true,
    testImage: str(p, 'test-image'), testCommand: str(p, 'test-command'), createRepository: p.values['create-repository'] === true,
    projectId: str(p, 'project-id'), namespaceId: str(p, 'namespace-id'), issuer: str(p, 'issuer'), audience: str(p, 'audience'),
    hoistPackage: str(p, 'hoist-package'),
  };
}

/** Asks for each missing required value on the terminal (questions on stderr, answers on stdin). */
async function ask(input: InitInput): Promise<InitInput> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    const filled: InitInput = { ...input };
    for (const r of REQUIRED) {
      while (!filled[r.key]) (filled as Record<string, unknown>)[r.key] = (await rl.question(`${r.question}: `)).trim() || undefined;
    }
    if (!input.builder) filled.builder = (await rl.question(`builder (${BUILDERS.join('/')}) [${DEFAULTS.builder}]: `)).trim() || DEFAULTS.builder;
    return filled;
  } finally {
    rl.close();
  }
}

const interactive = () => process.stdin.isTTY === true && process.stderr.isTTY === true;

export const initCommand: Command = {
  name: 'init',
  summary: 'generate .gitlab-ci.yml, a CI/CD component, least-privilege IAM policies and Terraform',
  help: HELP,
  async run(argv, io) {
    const p = parse('init', argv, OPTIONS);
    if (p.values.help) return io.stdout(HELP), 0;
    let input = initInput(p);
    const missing = missingRequired(input);
    if (missing.length > 0) {
      if (p.values.yes || !interactive()) {
        throw usageError(`init: missing ${missing.join(', ')}`, 'Pass them as flags (hoist init --help), or run hoist init in a terminal without --yes to be asked.');
      }
      input = await ask(input);
    }
    const outcome = await init(input, { dir: str(p, 'dir') ?? '.', force: p.values.force === true });
    io.stdout(report(outcome));
    return nextSteps(outcome, io);
  },
};

function report(o: InitOutcome): string {
  const width = Math.max(...o.files.map((f) => f.path.length));
  return o.files.map((f) => {
    const line = `${f.status.padEnd(11)} ${f.path.padEnd(width)}  ${f.description}\n`;
    return f.status === 'skipped' && f.diff ? line + f.diff : line;
  }).join('');
}

/** The `hoist bootstrap` flags that reproduce exactly the policies init wrote. */
export function bootstrapArgs(s: InitOutcome['spec']): string[] {
  const a = ['--project-path', s.projectPath, '--repository', s.repository, '--account', s.account, '--region', s.region, '--branch', s.branch];
  if (s.roleName !== DEFAULTS.roleName) a.push('--role-name', s.roleName);
  if (s.policyName !== DEFAULTS.policyName) a.push('--policy-name', s.policyName);
  if (s.issuer !== DEFAULTS.issuer) a.push('--issuer', s.issuer);
  if (s.audience !== 'sts.amazonaws.com') a.push('--audience', s.audience);
  if (s.projectId) a.push('--project-id', s.projectId);
  if (s.namespaceId) a.push('--namespace-id', s.namespaceId);
  if (s.tags) a.push('--tags');
  if (s.createRepository) a.push('--create-repository');
  return a.map((x) => (/^[\w@%+=:,./-]+$/.test(x) ? x : `'${x.replace(/'/g, `'\\''`)}'`));
}

function nextSteps(o: InitOutcome, io: Io): number {
  const s = o.spec;
  const skipped = o.files.filter((f) => f.status === 'skipped');
  if (skipped.length > 0) {
    io.stderr(`hoist init: ${skipped.length} file(s) differ from what hoist generates and were left alone (diff above); rerun with --force to overwrite.\n`);
    return 1;
  }
  io.stderr([
    'Next:',
    `  1. Create the AWS side with administrator credentials:`,
    `       hoist bootstrap ${bootstrapArgs(o.spec).join(' ')}`,
    '     (or: cd iam && terraform init && terraform apply)',
    `  2. Commit .gitlab-ci.yml and push to ${s.branch}; the job assumes ${roleArnOf(s)}.`,
    '',
  ].join('\n'));
  return 0;
}
