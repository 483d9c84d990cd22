// Cache that really hits (DESIGN §1, mission-anchors pain point 11: `cache-from` silently not
// used). Pure decisions about cache images, and the warnings that make a silent miss visible.
//
// How each builder uses `--cache-from <image>` (verified against dockerd 20.10 here):
//   - legacy builder: only images present in the local engine count, matched by their layer
//     history — so the image must be pulled first (the seed's `docker pull … || true`), and an
//     image built by BuildKit never matches (its history differs);
//   - BuildKit: imports the image's inline cache metadata itself, from the registry (or the
//     local store), and fetches only the layers it reuses — so no pull is needed, but the image
//     must have been built with BUILDKIT_INLINE_CACHE=1, and inline cache covers only the
//     final stage of a multi-stage build (moby/buildkit README, "Inline cache").

import type { CacheSource } from './builder.ts';
import type { DockerBuildMode } from './docker-args.ts';
import type { CacheImport, ParsedBuild, ParsedPull } from './docker-parse.ts';

/** Which builders need `docker pull` of cache images before the build. */
export function needsCachePull(mode: DockerBuildMode): boolean {
  return mode === 'legacy';
}

/** A cache image's `docker pull` result. A missing one is a first build, never an error. */
export function sourceFromPull(ref: string, pull: ParsedPull): CacheSource {
  if (pull.status === 'pulled' || pull.status === 'up-to-date') return { ref, status: 'available', detail: `pulled${pull.digest ? ` ${pull.digest}` : ''}` };
  if (pull.status === 'missing') return { ref, status: 'missing', detail: 'not in the registry yet (first build?): building without it' };
  return { ref, status: 'unavailable', detail: pull.message ?? pull.status };
}

/** BuildKit's own cache import, read from the build output. */
export function sourceFromImport(ref: string, imports: readonly CacheImport[]): CacheSource {
  const imp = imports.find((i) => i.ref === ref);
  if (!imp) return { ref, status: 'unavailable', detail: 'BuildKit did not report importing it' };
  if (imp.ok) return { ref, status: 'available', detail: 'cache manifest imported by BuildKit' };
  if (/not found|manifest unknown/i.test(imp.error ?? '')) return { ref, status: 'missing', detail: 'not in the registry yet (first build?): building without it' };
  return { ref, status: 'unavailable', detail: imp.error ?? 'import failed' };
}

function missWarning(mode: DockerBuildMode, refs: string): string {
  if (mode === 'legacy') {
    return `cache image ${refs} was pulled but no step matched: the legacy builder matches on layer history, so an image built by BuildKit (or from a different base or earlier Dockerfile lines) never hits`;
  }
  return `cache image ${refs} was imported but no step matched: it probably has no inline cache metadata (built without BUILDKIT_INLINE_CACHE=1, or by the legacy builder), or the base image or the first steps changed; inline cache covers the final stage only`;
}

/** Make a silent cache miss loud. */
export function cacheWarnings(mode: DockerBuildMode, sources: readonly CacheSource[], parsed: ParsedBuild): string[] {
  const warnings: string[] = [];
  const available = sources.filter((s) => s.status === 'available').map((s) => s.ref);
  if (available.length > 0 && parsed.totalSteps > 0 && parsed.cachedSteps === 0) warnings.push(missWarning(mode, available.join(', ')));
  for (const s of sources.filter((x) => x.status === 'unavailable')) warnings.push(`cache image ${s.ref} could not be used: ${s.detail ?? 'unknown error'}`);
  return warnings;
}
