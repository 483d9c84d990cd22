// Build inputs: context, Dockerfile, build args, target, platforms, labels, cache sources.
// Paths are kept as text (no I/O here); the builder checks that they exist.

import { posix } from 'node:path';
import { type Platform, parsePlatform } from '../model/platform.ts';
import { type ImageReference, parseReference, withTag } from '../model/reference.ts';
import { parseTag } from '../model/tag.ts';
import { collect } from '../model/value.ts';
import { type Raw, type Resolver, bool, envValue, list, report, scalar } from './settings.ts';

export interface BuildSettings {
  /** --context, default `.`. */
  context: string;
  /** --file, default `<context>/Dockerfile` (relative to the working directory, as `docker build -f`). */
  file: string;
  buildArgs: Record<string, string>;
  target?: string;
  /** Empty: the builder's own platform. */
  platforms: Platform[];
  /** User labels (--label); generated OCI labels are added by ci/labels. */
  labels: Record<string, string>;
  cacheFrom: ImageReference[];
  /** `docker build --pull`, as the seed does; --no-pull turns it off. */
  pull: boolean;
}

export function resolveBuild(r: Resolver, image: ImageReference | undefined): BuildSettings {
  const context = scalar(r, 'context')?.value || '.';
  const target = resolveTarget(r);
  const settings: BuildSettings = {
    context,
    file: scalar(r, 'file')?.value || posix.join(context, 'Dockerfile'),
    buildArgs: pairs(r, list(r, 'build-arg'), true),
    platforms: resolvePlatforms(r),
    labels: pairs(r, list(r, 'label'), false),
    cacheFrom: resolveCacheFrom(r, image),
    pull: bool(r, 'pull', true),
  };
  return target === undefined ? settings : { ...settings, target };
}

/**
 * `K=V` items. A build arg without `=` takes its value from the environment, and is left out
 * when unset (`docker build --build-arg NAME` does the same, so the Dockerfile's default applies).
 */
function pairs(r: Resolver, items: Raw[], fromEnv: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { value, source } of items) {
    const eq = value.indexOf('=');
    const key = eq < 0 ? value : value.slice(0, eq);
    if (!/^[^\s=]+$/.test(key) || (eq < 0 && !fromEnv)) {
      report(r, { source, message: `${JSON.stringify(value)} is not NAME=value`, hint: 'For example --label org.example.team=platform.' });
      continue;
    }
    const v = eq < 0 ? envValue(r.env, key) : value.slice(eq + 1);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

// Dockerfile stage names (`FROM image AS name`): a letter, then letters, digits, `.`, `_`, `-`.
function resolveTarget(r: Resolver): string | undefined {
  const raw = scalar(r, 'target');
  if (raw === undefined || /^[A-Za-z][A-Za-z0-9._-]*$/.test(raw.value)) return raw?.value;
  return report(r, { source: raw.source, message: `${JSON.stringify(raw.value)} is not a build stage name`, hint: 'Use the name after AS in a FROM line of the Dockerfile.' });
}

function resolvePlatforms(r: Resolver): Platform[] {
  const raw = scalar(r, 'platform');
  if (raw === undefined) return [];
  return raw.value.split(',').map((p) => p.trim()).flatMap((p) => collect(parsePlatform(p, raw.source), r.problems) ?? []);
}

/** `--cache-from :buildcache` is shorthand for that tag of the image being pushed. */
function resolveCacheFrom(r: Resolver, image: ImageReference | undefined): ImageReference[] {
  return list(r, 'cache-from').flatMap(({ value, source }) => {
    if (!value.startsWith(':')) return collect(parseReference(value, source), r.problems) ?? [];
    const tag = collect(parseTag(value.slice(1), source), r.problems);
    return tag && image ? [withTag(image, tag)] : [];
  });
}
