// Semantic versions in Git tags (`v1.2.3`, `2.0.0-rc.1`), for tag rules and the OCI version label.

/** SemVer 2.0.0 (semver.org, "Is there a suggested regular expression"), with an optional `v`. */
const SEMVER = /^[vV]?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  prerelease?: string;
  build?: string;
  /** `major.minor.patch[-prerelease]`: no `v`, no build metadata (`+` is not allowed in tags). */
  version: string;
  /** The text it was parsed from, `v` included. */
  raw: string;
}

/** Undefined when the text is not a semantic version: callers fall back to the text itself. */
export function parseSemver(raw: string): SemVer | undefined {
  const m = SEMVER.exec(raw);
  if (!m) return undefined;
  const [, major = '', minor = '', patch = '', prerelease, build] = m;
  const core = `${major}.${minor}.${patch}`;
  const v: SemVer = { major: Number(major), minor: Number(minor), patch: Number(patch), version: prerelease ? `${core}-${prerelease}` : core, raw };
  if (prerelease !== undefined) v.prerelease = prerelease;
  if (build !== undefined) v.build = build;
  return v;
}
