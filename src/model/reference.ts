// Image references, registry hosts and digests, after Docker's reference grammar
// (distribution/reference `regexp.go`, `normalize.go`):
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [ domain "/" ] path-component ( "/" path-component )*     (≤ 255 characters)
//   domain    := host [ ":" port ]
//   path-component := [a-z0-9]+ ( ( [._] | "__" | "-"+ ) [a-z0-9]+ )*
// Digests follow the OCI image spec (descriptor.md "Digests"): `sha256:` + 64 lowercase hex,
// or `sha512:` + 128.

import { type Tag, tagProblem } from './tag.ts';
import { type Brand, type Parsed, fail, ok, quote } from './value.ts';

export type RegistryHost = Brand<string, 'RegistryHost'>;
export type Digest = Brand<string, 'Digest'>;

export interface ImageReference {
  /** Absent when the reference names no registry (Docker would use docker.io). */
  registry?: RegistryHost;
  /** The path inside the registry, e.g. `order-microservice` or `team/app`. */
  repository: string;
  tag?: Tag;
  digest?: Digest;
}

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])`;
const DOMAIN = new RegExp(`^${HOST}(?::[0-9]+)?$`);
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const PATH = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const NAME_MAX = 255;

const DIGEST_HEX: Record<string, number> = { sha256: 64, sha512: 128 };

export function parseDigest(raw: string, source = 'digest'): Parsed<Digest> {
  const problem = digestProblem(raw);
  if (problem === undefined) return ok(raw as Digest);
  return fail(source, `${quote(raw)} is not an image digest: ${problem.why}`, problem.hint);
}

function digestProblem(raw: string): { why: string; hint?: string } | undefined {
  const colon = raw.indexOf(':');
  if (colon < 0) {
    return /^[a-fA-F0-9]{64}$/.test(raw) ? { why: 'it has no algorithm', hint: `Use sha256:${raw.toLowerCase()}.` } : { why: 'expected sha256:<64 hex digits>' };
  }
  const algorithm = raw.slice(0, colon);
  const hex = raw.slice(colon + 1);
  const length = Object.hasOwn(DIGEST_HEX, algorithm) ? DIGEST_HEX[algorithm] : undefined;
  if (length === undefined) return { why: `unsupported algorithm ${quote(algorithm)}; expected sha256 or sha512` };
  if (!/^[a-fA-F0-9]+$/.test(hex)) return { why: 'the part after the colon must be hex digits' };
  if (/[A-F]/.test(hex)) return { why: 'digests are lowercase hex', hint: `Use ${algorithm}:${hex.toLowerCase()}.` };
  if (hex.length !== length) return { why: `${algorithm} digests have ${length} hex digits, this has ${hex.length}` };
  return undefined;
}

/** A registry host with optional port: `831955480324.dkr.ecr.ap-south-1.amazonaws.com`, `localhost:5000`. */
export function parseRegistryHost(raw: string, source = 'registry'): Parsed<RegistryHost> {
  const host = raw.replace(/^https?:\/\//, '').replace(/\/$/, '');
  if (DOMAIN.test(host)) return ok(host as RegistryHost);
  return fail(source, `${quote(raw)} is not a registry host`, 'Give a host name with an optional port, e.g. registry.example.com:5000, without a path.');
}

/**
 * Docker's rule for the first path part (`splitDockerDomain` in normalize.go): it is a registry
 * when it contains `.` or `:`, is `localhost`, or has upper-case letters (path parts cannot).
 */
export function isRegistryComponent(first: string): boolean {
  return /[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase();
}

export function parseReference(raw: string, source = 'image reference'): Parsed<ImageReference> {
  const bad = (why: string) => fail(source, `${quote(raw)} is not an image reference: ${why}`,
    'References look like [registry/]repository[:tag][@sha256:digest], e.g. registry.example.com/team/app:1.0.');
  const at = raw.indexOf('@');
  const rest = at < 0 ? raw : raw.slice(0, at);
  const digest = at < 0 ? undefined : raw.slice(at + 1);
  const digestWhy = digest === undefined ? undefined : digestProblem(digest);
  if (digestWhy) return bad(`the digest: ${digestWhy.why}`);
  const { name, tag } = splitTag(rest);
  if (name.length === 0) return bad('it has no repository');
  if (name.length > NAME_MAX) return bad(`the name has ${name.length} characters; Docker allows ${NAME_MAX}`);
  const tagWhy = tag === undefined ? undefined : tagProblem(tag);
  if (tagWhy) return bad(`the tag: ${tagWhy}`);
  const named = splitName(name);
  if (typeof named === 'string') return bad(named);
  return ok(compact({ ...named, tag: tag as Tag | undefined, digest: digest as Digest | undefined }));
}

/** The tag is after the last `:` that follows the last `/` (a registry port comes before a `/`). */
function splitTag(rest: string): { name: string; tag?: string } {
  const colon = rest.lastIndexOf(':');
  if (colon < 0 || rest.indexOf('/', colon) >= 0) return { name: rest };
  return { name: rest.slice(0, colon), tag: rest.slice(colon + 1) };
}

function splitName(name: string): Pick<ImageReference, 'registry' | 'repository'> | string {
  const slash = name.indexOf('/');
  const first = name.slice(0, slash);
  const hasRegistry = slash > 0 && isRegistryComponent(first);
  const repository = hasRegistry ? name.slice(slash + 1) : name;
  if (hasRegistry && !DOMAIN.test(first)) return `${quote(first)} is not a valid registry host`;
  if (!PATH.test(repository)) return pathProblem(repository);
  return hasRegistry ? { registry: first as RegistryHost, repository } : { repository };
}

function pathProblem(path: string): string {
  if (/[A-Z]/.test(path)) return 'repository names are lowercase';
  if (path.split('/').some((p) => p === '')) return 'the repository has an empty path part';
  return `the repository ${quote(path)} has characters or separators Docker does not allow`;
}

function compact(ref: ImageReference): ImageReference {
  const out: ImageReference = { repository: ref.repository };
  if (ref.registry !== undefined) out.registry = ref.registry;
  if (ref.tag !== undefined) out.tag = ref.tag;
  if (ref.digest !== undefined) out.digest = ref.digest;
  return out;
}

export function formatReference(ref: ImageReference): string {
  const name = ref.registry === undefined ? ref.repository : `${ref.registry}/${ref.repository}`;
  return `${name}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}

/** The same repository with another tag (and no digest). */
export function withTag(ref: ImageReference, tag: Tag): ImageReference {
  return compact({ registry: ref.registry, repository: ref.repository, tag });
}
