import { readFile } from 'node:fs/promises';
import { planPush } from '../../api/push-plan.ts';
import { push, type PushOutcome } from '../../api/push.ts';
import { parseBuilderKind, selectBuilder } from '../../api/builders.ts';
import { parsePusher } from '../../api/engine-push.ts';
import type { PushFlags } from '../../config/push.ts';
import { HoistError } from '../../errors.ts';
import { list, parse, str, type Parsed } from '../args.ts';
import type { Command } from '../io.ts';
import { progress } from '../progress.ts';
import { writeFileAtomic } from '../../fs/atomic.ts';

const HELP = `Usage: hoist push [flags]

The seed pipeline's build-and-push job as one command: exchange the CI job's OIDC ID token
for short-lived AWS credentials (STS AssumeRoleWithWebIdentity), log in to Amazon ECR,
create the repository when missing, build with a cache that really hits, tag, push, and
verify that ECR holds exactly what was pushed.

Configuration (flags > environment > hoist.yaml), all validated before any network call:
  AWS_ACCOUNT_ID      --account ID         12-digit account (default: the role ARN's)
  AWS_REGION          --region R           e.g. ap-south-1 (also AWS_DEFAULT_REGION)
  AWS_ROLE_ARN        --role-arn ARN       the role the job assumes
  ECR_REPOSITORY      --repository NAME    ECR repository name
  IMAGE_TAG           --tag TAG            tag to push (repeatable)
  AWS_ID_TOKEN        --id-token-var NAME  variable holding the ID token (GitLab id_tokens:);
                                           else AWS_WEB_IDENTITY_TOKEN_FILE, else GitHub Actions
  AWS_ENDPOINT_URL    --endpoint-url URL   AWS endpoint (e.g. hoist sandbox)
  AWS_ROLE_SESSION_NAME --session-name S   default gitlab-$CI_PIPELINE_ID
                      --duration SECONDS   credential lifetime (900..43200, or 90m, 2h)
                      --registry HOST      push here instead of the ECR registry ECR names

Tags:
  --tag-rule RULE     sha | sha:short | sha:N | ref | semver[:PATTERN] | latest | mr
                      (repeatable; PATTERN uses {{version}} {{major}} {{minor}} {{patch}}).
                      Default without IMAGE_TAG/--tag: sha:short and latest on the default branch.

Builder (--builder, or HOIST_BUILDER; default docker):
  docker   a Docker engine at DOCKER_HOST: DinD tcp://docker:2375, TLS :2376, or the socket
  native   daemonless, unprivileged: Dockerfiles without RUN are assembled into OCI layers
           directly; base layers are never downloaded when ECR has them or can mount them;
           reproducible (SOURCE_DATE_EPOCH)
  auto     native when the stages to build have no RUN, docker otherwise

Pusher, with the docker builder (--pusher, or HOIST_PUSHER; default auto):
  auto     docker push when the engine pulled a --cache-from image or a FROM image from the
           registry it pushes to: it then skips or mounts those layers. Otherwise (a first
           push, no --cache-from, a cache tag the job never pushes like the seed's :latest,
           bases from Docker Hub) hoist's registry client: it reads the image from the engine
           and gzips the layers in parallel, ~2x faster than docker push, which gzips every
           layer the engine has not itself pulled from or pushed to that registry
  docker   always docker push
  hoist    always hoist's registry client

Build:
  --context DIR  -f, --file PATH  --build-arg K=V  --target STAGE  --platform OS/ARCH
  --label K=V  --cache-from REF (repeatable; :TAG is that tag of the image, e.g. :latest)
  --no-pull

Repository (when hoist creates it):
  --no-create-repository  --tag-mutability MUTABLE|IMMUTABLE  --scan-on-push
  --encryption AES256|KMS  --kms-key ARN

Output:
  stdout: one line per tag, registry/repository:tag@sha256:...
  --json              the whole report as JSON on stdout
  --dotenv FILE       IMAGE_URI, IMAGE_DIGEST, IMAGE_TAGS for GitLab artifacts:reports:dotenv
  --config FILE       read settings from FILE instead of ./hoist.yaml
  --quiet             no progress on stderr

Exit codes: 0 pushed and verified, 1 a step failed (the message names it and the fix),
2 bad configuration (every problem listed; nothing was done).
`;

const OPTIONS = {
  repository: { type: 'string' }, tag: { type: 'string', multiple: true }, 'tag-rule': { type: 'string', multiple: true },
  region: { type: 'string' }, account: { type: 'string' }, 'role-arn': { type: 'string' }, context: { type: 'string' },
  file: { type: 'string', short: 'f' }, 'build-arg': { type: 'string', multiple: true }, target: { type: 'string' },
  platform: { type: 'string' }, label: { type: 'string', multiple: true }, 'cache-from': { type: 'string', multiple: true },
  'endpoint-url': { type: 'string' }, registry: { type: 'string' }, 'id-token-var': { type: 'string' },
  'session-name': { type: 'string' }, duration: { type: 'string' }, 'no-create-repository': { type: 'boolean' },
  'tag-mutability': { type: 'string' }, 'scan-on-push': { type: 'boolean' }, encryption: { type: 'string' },
  'kms-key': { type: 'string' }, 'no-pull': { type: 'boolean' }, json: { type: 'boolean' }, dotenv: { type: 'string' },
  config: { type: 'string' }, quiet: { type: 'boolean' }, builder: { type: 'string' }, pusher: { type: 'string' },
} as const;

export function pushFlags(p: Parsed): PushFlags {
  const flags: PushFlags = {
    repository: str(p, 'repository'), tag: list(p, 'tag'), tagRule: list(p, 'tag-rule'), region: str(p, 'region'),
    account: str(p, 'account'), roleArn: str(p, 'role-arn'), context: str(p, 'context'), file: str(p, 'file'),
    buildArg: list(p, 'build-arg'), target: str(p, 'target'), platform: str(p, 'platform'), label: list(p, 'label'),
    cacheFrom: list(p, 'cache-from'), endpointUrl: str(p, 'endpoint-url'), registry: str(p, 'registry'),
    idTokenVar: str(p, 'id-token-var'), sessionName: str(p, 'session-name'), duration: str(p, 'duration'),
    tagMutability: str(p, 'tag-mutability'), encryption: str(p, 'encryption'), kmsKey: str(p, 'kms-key'),
    dotenv: str(p, 'dotenv'),
    ...(p.values['no-create-repository'] ? { createRepository: false } : {}),
    ...(p.values['scan-on-push'] ? { scanOnPush: true } : {}),
    ...(p.values['no-pull'] ? { pull: false } : {}),
    ...(p.values.json ? { json: true } : {}),
  };
  // Empty lists mean "not given", so the environment and hoist.yaml still apply.
  return Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0))) as PushFlags;
}

export async function configFile(p: Parsed): Promise<{ path: string; text: string } | undefined> {
  const explicit = str(p, 'config');
  const path = explicit ?? 'hoist.yaml';
  try {
    return { path, text: await readFile(path, 'utf8') };
  } catch (err) {
    if (!explicit && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new HoistError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { code: 'config.unreadable', hint: 'Check the path given to --config.' });
  }
}

export const pushCommand: Command = {
  name: 'push',
  summary: 'the whole job: OIDC → STS → ECR login → repository → cached build → tags → push → verify',
  help: HELP,
  async run(argv, io) {
    const p = parse('push', argv, OPTIONS);
    if (p.values.help) return io.stdout(HELP), 0;
    const plan = planPush({ env: io.env, flags: pushFlags(p), file: await configFile(p) });
    const kind = str(p, 'builder') !== undefined ? parseBuilderKind(str(p, 'builder'), '--builder') : parseBuilderKind(io.env.HOIST_BUILDER, 'HOIST_BUILDER (environment)');
    const pusher = str(p, 'pusher') !== undefined ? parsePusher(str(p, 'pusher'), '--pusher') : parsePusher(io.env.HOIST_PUSHER, 'HOIST_PUSHER (environment)');
    const outcome = await push(plan, {
      builder: await selectBuilder(kind, plan.config.build, io.env, pusher),
      onStep: progress(io, p.values.quiet === true || plan.config.output.json),
      signal: io.signal,
    });
    if (plan.config.output.dotenv) await writeDotenv(plan.config.output.dotenv, outcome);
    io.stdout(plan.config.output.json ? JSON.stringify(outcome, null, 2) + '\n' : report(outcome));
    return 0;
  },
};

function report(o: PushOutcome): string {
  return o.tags.map((t) => `${t.ref}@${t.digest}\n`).join('');
}

export function dotenvLines(o: PushOutcome): string {
  const first = o.tags[0]!;
  return [
    `IMAGE_URI=${first.ref}@${o.digest}`,
    `IMAGE_DIGEST=${o.digest}`,
    `IMAGE_TAGS=${o.tags.map((t) => t.tag).join(',')}`,
  ].join('\n') + '\n';
}

/** Written whole or not at all: a later job never reads half a report. */
function writeDotenv(path: string, o: PushOutcome): Promise<void> {
  return writeFileAtomic(path, dotenvLines(o));
}
