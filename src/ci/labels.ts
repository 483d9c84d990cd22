// OCI image labels from GitLab's variables (OCI image spec, annotations.md "Pre-Defined
// Annotation Keys"), as docker/metadata-action derives them from GitHub's context. User labels
// (--label K=V) win over generated ones. A label whose variable is unset is left out.

import { parseSemver } from '../model/semver.ts';
import { type Tag } from '../model/tag.ts';
import { type GitlabContext } from './gitlab.ts';

export interface LabelInput {
  gitlab: GitlabContext;
  /** The tags being pushed, in order: `version` is the first semver one, else the first. */
  tags: readonly Tag[];
  /** Creation time when CI_PIPELINE_CREATED_AT is unset (outside GitLab). */
  now?: Date;
  user?: Readonly<Record<string, string>>;
}

const OCI = 'org.opencontainers.image';

export function ociLabels(input: LabelInput): Record<string, string> {
  const { gitlab: ctx } = input;
  const generated: Array<[string, string | undefined]> = [
    [`${OCI}.source`, ctx.project.url],
    [`${OCI}.revision`, ctx.commit.sha],
    [`${OCI}.created`, rfc3339(ctx.pipeline.createdAt ?? input.now)],
    [`${OCI}.title`, ctx.project.name],
    [`${OCI}.description`, ctx.project.description],
    [`${OCI}.url`, ctx.project.url],
    [`${OCI}.version`, versionOf(input.tags)],
  ];
  const labels = Object.fromEntries(generated.filter((e): e is [string, string] => e[1] !== undefined));
  return { ...labels, ...input.user };
}

/** The first tag that is a semantic version (`1.2.3`, `v2.0.0-rc.1`), else the first tag. */
export function versionOf(tags: readonly Tag[]): string | undefined {
  return tags.find((t) => parseSemver(t) !== undefined) ?? tags[0];
}

/**
 * `created` is a date-time per RFC 3339 (OCI annotations.md); whole seconds keep it equal to
 * GitLab's CI_PIPELINE_CREATED_AT, so a retried job produces the same labels.
 */
function rfc3339(d: Date | undefined): string | undefined {
  return d?.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
