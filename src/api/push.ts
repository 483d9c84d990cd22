// `hoist push`: the seed's build-and-push job as one verb. Order matters for failing fast:
// everything local (configuration, the build engine) is checked before the first AWS call,
// and nothing is pushed until the build has succeeded.

import { ensureRepository, imageForTag, type EnsuredRepository, type RegistryLogin } from '../aws/ecr.ts';
import type { Builder, BuildResult, PushResult } from '../build/builder.ts';
import { HoistError } from '../errors.ts';
import { formatReference, type ImageReference, type RegistryHost } from '../model/reference.ts';
import type { Tag } from '../model/tag.ts';
import { LiveSession } from './live-session.ts';
import type { SessionDeps } from './session.ts';
import type { PushPlan } from './push-plan.ts';
import * as Steps from './steps.ts';

export type StepName = 'engine' | 'assume-role' | 'ecr-login' | 'repository' | 'build' | 'push' | 'verify';

export type StepEvent = Steps.StepEvent<StepName>;

export interface PushedTag {
  tag: string;
  ref: string;
  digest: string;
  /** `unchanged`: the tag already held this image, so nothing was sent (a re-run). */
  status: 'pushed' | 'unchanged';
}

export interface PushOutcome {
  registry: string;
  repository: string;
  repositoryCreated: boolean;
  digest: string;
  tags: PushedTag[];
  build: Pick<BuildResult, 'imageId' | 'cachedSteps' | 'totalSteps' | 'cacheHits' | 'warnings'>;
  /** Blobs sent, found already at the registry, and mounted from another repository there. */
  layers: { pushed: number; existing: number; mounted: number };
  /** With the docker builder: docker push or hoist's registry client sent the image, and why. */
  pusher?: PushResult['pusher'];
  steps: Steps.StepRecord<StepName>[];
}

export interface PushDeps extends SessionDeps {
  builder: Builder;
  onStep?: (e: StepEvent) => void;
  signal?: AbortSignal;
}

export async function push(plan: PushPlan, deps: PushDeps): Promise<PushOutcome> {
  const { steps, run: step } = Steps.stepper<StepName>(deps.onStep);
  const { config } = plan;
  const { builder } = deps;
  try {
    await step('engine', () => builder.check(), (i) => `${i.backend} ${i.version} (${i.mode}) at ${i.endpoint}`);
    // STS credentials and the ECR token are renewed whenever the job needs them past their expiry.
    const session = await step('assume-role', () => LiveSession.open(config.aws, config.idToken, deps), (s) => s.session.role.assumedRoleArn);
    const login = await step('ecr-login', () => session.registryLogin(), (l) => `${l.registry}, token until ${l.expiresAt.toISOString()}`);
    // The registry ECR names in proxyEndpoint is where images go, unless --registry says otherwise.
    const registry = config.sources.registry ? config.aws.registry : (login.registry as RegistryHost);
    const repo = await step('repository', () => ensure(session, plan), (r) => `${r.created ? 'created' : 'found'} ${r.uri} (${r.tagMutability})`);
    await builder.login({ registry, ...session.registryCredentials(login) });
    const at = (ref: ImageReference): string => formatReference(ref.registry === config.aws.registry ? { ...ref, registry } : ref);
    const target = (tag: Tag) => at({ ...config.image, tag });
    const built = await step('build', () => builder.build({
      context: config.build.context,
      dockerfile: config.build.file,
      tags: plan.tags.map(target),
      buildArgs: config.build.buildArgs,
      ...(config.build.target ? { target: config.build.target } : {}),
      ...(config.build.platforms[0] ? { platform: platformText(config.build.platforms[0]) } : {}),
      labels: plan.labels,
      cacheFrom: config.build.cacheFrom.map(at),
      pull: config.build.pull,
      ...(deps.signal ? { signal: deps.signal } : {}),
    }), (b) => `${b.imageId.slice(0, 19)}, ${b.totalSteps} steps, ${b.cachedSteps} from cache`);
    const existing = await existingTags(session, plan, repo, built.imageId);
    const toPush = plan.tags.filter((t) => !existing.has(t));
    const pushed = await step('push', async () => {
      if (!toPush.length) return { pushed: [] };
      await freshLogin(builder, session, registry, login);
      return builder.push({ image: target(toPush[0]!), refs: toPush.map(target), ...(deps.signal ? { signal: deps.signal } : {}) });
    },
    (p) => `${p.pushed.length} tag(s) pushed${p.pusher ? ` with ${p.pusher.via === 'hoist' ? 'hoist\'s registry client' : 'docker push'} (${p.pusher.why})` : ''}, ${existing.size} already in place`);
    const tags = await step('verify', () => verify(session, plan, target, pushed.pushed, existing), (t) => `${t.length} tag(s) point at what was pushed`);
    return {
      registry, repository: config.image.repository, repositoryCreated: repo.created,
      digest: tags[0]!.digest, tags,
      build: { imageId: built.imageId, cachedSteps: built.cachedSteps, totalSteps: built.totalSteps, cacheHits: built.cacheHits, warnings: built.warnings },
      ...(pushed.pusher ? { pusher: pushed.pusher } : {}),
      layers: pushed.pushed.reduce((a, p) => ({ pushed: a.pushed + p.layersPushed, existing: a.existing + p.layersExisting, mounted: a.mounted + p.layersMounted }), { pushed: 0, existing: 0, mounted: 0 }),
      steps,
    };
  } finally {
    await builder.dispose();
  }
}

function platformText(p: { os: string; architecture: string; variant?: string }): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Share of its lifetime the ECR token must have left when the push begins (see freshLogin). */
const PUSH_LOGIN_SHARE = 0.75;

/**
 * A backend that hands the token to a tool (`docker push`) keeps that token for the whole push:
 * it is logged in again, with a new token, once a quarter of the first one's lifetime is gone.
 * (hoist's own registry client renews per request, so for it this is merely early.)
 */
async function freshLogin(builder: Builder, session: LiveSession, registry: string, given: RegistryLogin): Promise<void> {
  const login = await session.registryLogin(PUSH_LOGIN_SHARE);
  if (login !== given) await builder.login({ registry, ...session.registryCredentials(login) });
}

function ensure(session: LiveSession, plan: PushPlan): Promise<EnsuredRepository> {
  const r = plan.config.repository;
  return session.withCredentials((target, credentials) => ensureRepository(target, credentials, r.name, {
    create: r.create,
    settings: {
      ...(r.tagMutability ? { tagMutability: r.tagMutability } : {}),
      scanOnPush: r.scanOnPush,
      ...(r.encryption ? { encryption: { type: r.encryption.type as 'AES256' | 'KMS', ...(r.encryption.kmsKey ? { kmsKey: r.encryption.kmsKey } : {}) } } : {}),
    },
  }));
}

/**
 * Tags that already hold this very image (same config digest): a re-run (`retry: 1`) sends
 * nothing for them. On an immutable repository, a tag holding another image is an error
 * before any upload: ECR would refuse the manifest with TAG_INVALID anyway.
 */
async function existingTags(session: LiveSession, plan: PushPlan, repo: EnsuredRepository, imageId: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const tag of plan.tags) {
    const image = await session.withCredentials((t, c) => imageForTag(t, c, plan.config.image.repository, tag));
    if (!image) continue;
    if (configDigest(image.manifest) === imageId) {
      found.set(tag, image.digest);
    } else if (repo.tagMutability.startsWith('IMMUTABLE')) {
      throw new HoistError(`tag "${tag}" of the immutable repository ${plan.config.image.repository} already holds another image (${image.digest})`, {
        code: 'ecr.tag-immutable', op: 'push',
        hint: 'Immutable tags cannot move: push a tag unique to this build (e.g. --tag-rule sha, or IMAGE_TAG=$CI_COMMIT_SHA), or make the repository MUTABLE.',
        context: { tag, existingDigest: image.digest, builtImage: imageId },
      });
    }
  }
  return found;
}

function configDigest(manifest: string): string | undefined {
  try {
    return (JSON.parse(manifest) as { config?: { digest?: string } }).config?.digest;
  } catch {
    return undefined;
  }
}

/** A push is done only when ECR answers, for every tag, the digest that was sent (DESIGN §6). */
async function verify(
  session: LiveSession, plan: PushPlan, target: (t: Tag) => string,
  pushed: readonly { ref: string; digest: string }[], existing: ReadonlyMap<string, string>,
): Promise<PushedTag[]> {
  const out: PushedTag[] = [];
  for (const tag of plan.tags) {
    const ref = target(tag);
    const sent = pushed.find((p) => p.ref === ref)?.digest ?? existing.get(tag);
    const stored = await session.withCredentials((t, c) => imageForTag(t, c, plan.config.image.repository, tag));
    if (!sent || stored?.digest !== sent) {
      throw new HoistError(`ECR holds ${stored?.digest ?? 'nothing'} for ${ref}, not the ${sent ?? 'image'} that was pushed`, {
        code: 'push.verify-failed', op: 'verify', retryable: true,
        hint: 'Another job may have pushed the same tag at the same time: re-run, or use tags unique to the build.',
      });
    }
    out.push({ tag, ref, digest: sent, status: existing.has(tag) ? 'unchanged' : 'pushed' });
  }
  return out;
}
