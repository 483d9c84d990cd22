// ECR API image actions over the same data the registry uses (images.ts): DescribeImages,
// ListImages, BatchGetImage, PutImage, BatchDeleteImage, BatchCheckLayerAvailability,
// GetDownloadUrlForLayer. Shapes and failure codes as in the ECR API Reference.

import {
  invalidParameter, optArray, optObject, optString, paginate, reqArray, reqString, stringList, targetRepository,
  type Input,
} from './ecr-common.ts';
import {
  ImageReferenced, ManifestInvalid, ReferencesMissing, TagImmutable, deleteManifest, putManifest,
  storedManifestInfo, tagsOf, untag,
} from './images.ts';
import { AwsFault, epochSeconds, type AwsCall, type SandboxContext } from './protocol.ts';
import { sha256 } from './store.ts';
import type { ImageRecord, Repository } from './world.ts';

type EcrAction = (ctx: SandboxContext, call: AwsCall) => Promise<unknown>;

interface ImageId {
  imageDigest?: string;
  imageTag?: string;
}

/** ECR's digest pattern for image identifiers. */
const DIGEST_PATTERN = /^[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+$/;

const FAILURE_REASONS = {
  ImageNotFound: 'Requested image not found',
  MissingDigestAndTag: 'Invalid request parameters: both tag and digest cannot be null',
  InvalidImageDigest: "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'",
  InvalidImageTag: 'Invalid request parameters: image tag should have length between 1 and 300',
  ImageTagDoesNotMatchDigest: 'Invalid request parameters: given tag does not map to the given digest',
} as const;
type FailureCode = keyof typeof FAILURE_REASONS | 'ImageReferencedByManifestList';

interface Failure {
  imageId: ImageId;
  failureCode: FailureCode;
  failureReason: string;
}

function imageIds(input: Input, member: string, required: boolean): ImageId[] | undefined {
  const list = required ? reqArray(input, member, 1, 100) : optArray(input, member, 1, 100);
  return list?.map((v) => {
    const o = (typeof v === 'object' && v !== null ? v : {}) as Input;
    const id: ImageId = {};
    const d = optString(o, 'imageDigest');
    const t = optString(o, 'imageTag');
    if (d !== undefined) id.imageDigest = d;
    if (t !== undefined) id.imageTag = t;
    return id;
  });
}

/** The digest an image identifier names, or why it names none. */
function resolve(repo: Repository, id: ImageId): { digest: string } | { code: FailureCode } {
  const { imageDigest: digest, imageTag: tag } = id;
  if (digest === undefined && tag === undefined) return { code: 'MissingDigestAndTag' };
  if (digest !== undefined && !DIGEST_PATTERN.test(digest)) return { code: 'InvalidImageDigest' };
  if (tag !== undefined && (tag.length < 1 || tag.length > 300)) return { code: 'InvalidImageTag' };
  if (tag !== undefined) {
    const tagged = repo.tags[tag];
    if (tagged === undefined) return { code: 'ImageNotFound' };
    if (digest !== undefined && digest !== tagged) return { code: 'ImageTagDoesNotMatchDigest' };
    return { digest: tagged };
  }
  return repo.images[digest!] ? { digest: digest! } : { code: 'ImageNotFound' };
}

const failure = (imageId: ImageId, code: FailureCode, reason?: string): Failure => ({
  imageId, failureCode: code, failureReason: reason ?? FAILURE_REASONS[code as keyof typeof FAILURE_REASONS],
});

const idText = (id: ImageId): string => `{imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'}`;

function tagStatus(input: Input): 'TAGGED' | 'UNTAGGED' | 'ANY' {
  const filter = optObject(input, 'filter');
  const status = filter ? optString(filter, 'tagStatus') : undefined;
  if (status === undefined) return 'ANY';
  if (status !== 'TAGGED' && status !== 'UNTAGGED' && status !== 'ANY') {
    throw invalidParameter('filter.tagStatus', 'Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]');
  }
  return status;
}

function matchesStatus(repo: Repository, digest: string, status: 'TAGGED' | 'UNTAGGED' | 'ANY'): boolean {
  if (status === 'ANY') return true;
  return (tagsOf(repo, digest).length > 0) === (status === 'TAGGED');
}

async function imageDetail(ctx: SandboxContext, repo: Repository, img: ImageRecord): Promise<Record<string, unknown>> {
  const info = await storedManifestInfo(ctx.world.blobs, img);
  const tags = tagsOf(repo, img.digest);
  return {
    registryId: repo.registryId,
    repositoryName: repo.name,
    imageDigest: img.digest,
    ...(tags.length ? { imageTags: tags } : {}),
    imageSizeInBytes: img.imageSize,
    imagePushedAt: epochSeconds(img.pushedAt),
    imageManifestMediaType: img.mediaType,
    ...(info?.artifactMediaType ? { artifactMediaType: info.artifactMediaType } : {}),
    ...(info?.subject ? { subjectManifestDigest: info.subject } : {}),
    imageStatus: 'ACTIVE',
  };
}

const describeImages: EcrAction = async (ctx, call) => {
  const repo = targetRepository(ctx, call, 'DescribeImages');
  const input = call.input ?? {};
  const ids = imageIds(input, 'imageIds', false);
  const status = tagStatus(input);
  if (ids) {
    if (input.nextToken !== undefined || input.maxResults !== undefined) {
      throw invalidParameter('imageIds', 'nextToken and maxResults cannot be used with imageIds');
    }
    const digests = new Set<string>();
    for (const id of ids) {
      const r = resolve(repo, id);
      if ('code' in r) {
        if (r.code !== 'ImageNotFound' && r.code !== 'ImageTagDoesNotMatchDigest') throw invalidParameter('imageIds', FAILURE_REASONS[r.code as keyof typeof FAILURE_REASONS]);
        throw new AwsFault('ImageNotFoundException',
          `The image with imageId ${idText(id)} does not exist within the repository with name '${repo.name}' in the registry with id '${repo.registryId}'`);
      }
      digests.add(r.digest);
    }
    const found = [...digests].map((d) => repo.images[d]!).filter((img) => matchesStatus(repo, img.digest, status));
    return { imageDetails: await Promise.all(found.map((img) => imageDetail(ctx, repo, img))) };
  }
  const all = Object.values(repo.images).filter((img) => matchesStatus(repo, img.digest, status));
  const page = paginate(input, all, (img) => img.digest, 100);
  return {
    imageDetails: await Promise.all(page.items.map((img) => imageDetail(ctx, repo, img))),
    ...(page.nextToken ? { nextToken: page.nextToken } : {}),
  };
};

const listImages: EcrAction = async (ctx, call) => {
  const repo = targetRepository(ctx, call, 'ListImages');
  const input = call.input ?? {};
  const status = tagStatus(input);
  const entries: ImageId[] = [];
  for (const digest of Object.keys(repo.images)) {
    const tags = tagsOf(repo, digest);
    if (tags.length === 0 && status !== 'TAGGED') entries.push({ imageDigest: digest });
    if (status !== 'UNTAGGED') for (const t of tags) entries.push({ imageDigest: digest, imageTag: t });
  }
  const page = paginate(input, entries, (e) => `${e.imageDigest}\u0000${e.imageTag ?? ''}`, 100);
  return { imageIds: page.items, ...(page.nextToken ? { nextToken: page.nextToken } : {}) };
};

const batchGetImage: EcrAction = async (ctx, call) => {
  const repo = targetRepository(ctx, call, 'BatchGetImage');
  const input = call.input ?? {};
  const ids = imageIds(input, 'imageIds', true)!;
  const accepted = input.acceptedMediaTypes === undefined ? undefined : stringList(input, 'acceptedMediaTypes', 1, 100);
  const images: Record<string, unknown>[] = [];
  const failures: Failure[] = [];
  for (const id of ids) {
    const r = resolve(repo, id);
    if ('code' in r) {
      failures.push(failure(id, r.code));
      continue;
    }
    const img = repo.images[r.digest]!;
    if (accepted && !accepted.includes(img.mediaType)) {
      failures.push(failure(id, 'ImageNotFound', `Requested image's media type ${img.mediaType} is not in acceptedMediaTypes`));
      continue;
    }
    const manifest = await ctx.world.blobs.read(img.digest);
    images.push({
      registryId: repo.registryId,
      repositoryName: repo.name,
      imageId: { imageDigest: img.digest, ...(id.imageTag !== undefined ? { imageTag: id.imageTag } : {}) },
      imageManifest: manifest.toString('utf8'),
      imageManifestMediaType: img.mediaType,
    });
  }
  return { images, failures };
};

function putImageFault(err: unknown, repo: Repository): unknown {
  const where = `repository with name '${repo.name}' in registry with id '${repo.registryId}'`;
  if (err instanceof ManifestInvalid) return invalidParameter('imageManifest', err.reason);
  if (err instanceof ReferencesMissing) {
    return err.isIndex
      ? new AwsFault('ReferencedImagesNotFoundException', `Images with digests '[${err.digests.join(', ')}]' referenced in the manifest list were not found in the ${where}`)
      : new AwsFault('LayersNotFoundException', `Layers with digests '[${err.digests.join(', ')}]' required for pushing image into ${where} do not exist`);
  }
  if (err instanceof TagImmutable) {
    return new AwsFault('ImageTagAlreadyExistsException',
      `The image tag '${err.tag}' already exists in the '${repo.name}' repository and cannot be overwritten because the repository is immutable.`);
  }
  return err;
}

const putImage: EcrAction = async (ctx, call) => {
  const repo = targetRepository(ctx, call, 'PutImage');
  const input = call.input ?? {};
  const manifest = reqString(input, 'imageManifest');
  if (manifest.length < 1) throw invalidParameter('imageManifest', 'Member must have length greater than or equal to 1');
  if (manifest.length > 4_194_304) throw invalidParameter('imageManifest', 'Member must have length less than or equal to 4194304');
  const mediaType = optString(input, 'imageManifestMediaType');
  const tag = optString(input, 'imageTag');
  if (tag !== undefined && (tag.length < 1 || tag.length > 300)) throw invalidParameter('imageTag', 'Member must have length between 1 and 300');
  const bytes = Buffer.from(manifest, 'utf8');
  const digest = sha256(bytes);
  const declared = optString(input, 'imageDigest');
  if (declared !== undefined && declared !== digest) {
    throw new AwsFault('ImageDigestDoesNotMatchException',
      `The image digest '${declared}' does not match the digest '${digest}' Amazon ECR calculated for the image manifest`);
  }
  const where = `in the repository with name '${repo.name}' in registry with id '${repo.registryId}'`;
  if (tag !== undefined ? repo.tags[tag] === digest : repo.images[digest] !== undefined) {
    throw new AwsFault('ImageAlreadyExistsException',
      tag !== undefined ? `Image with digest '${digest}' and tag '${tag}' already exists ${where}` : `Image with digest '${digest}' already exists ${where}`);
  }
  let stored;
  try {
    stored = await putManifest(ctx.world, repo, bytes, mediaType, tag);
  } catch (err) {
    throw putImageFault(err, repo);
  }
  return {
    image: {
      registryId: repo.registryId,
      repositoryName: repo.name,
      imageId: { imageDigest: stored.digest, ...(tag !== undefined ? { imageTag: tag } : {}) },
      imageManifest: manifest,
      imageManifestMediaType: stored.info.mediaType,
    },
  };
};

async function deleteOne(ctx: SandboxContext, repo: Repository, id: ImageId, deleted: ImageId[]): Promise<Failure | undefined> {
  const r = resolve(repo, id);
  if ('code' in r) return failure(id, r.code);
  try {
    if (id.imageDigest === undefined) {
      await untag(ctx.world, repo, id.imageTag!);
      deleted.push({ imageDigest: r.digest, imageTag: id.imageTag! });
      return undefined;
    }
    const tags = (await deleteManifest(ctx.world, repo, r.digest)) ?? [];
    if (tags.length === 0) deleted.push({ imageDigest: r.digest });
    for (const t of tags) deleted.push({ imageDigest: r.digest, imageTag: t });
    return undefined;
  } catch (err) {
    if (!(err instanceof ImageReferenced)) throw err;
    return failure(id, 'ImageReferencedByManifestList', `Requested image referenced by manifest list: [${err.parents.join(', ')}]`);
  }
}

const batchDeleteImage: EcrAction = async (ctx, call) => {
  const repo = targetRepository(ctx, call, 'BatchDeleteImage');
  const ids = imageIds(call.input ?? {}, 'imageIds', true)!;
  const deleted: ImageId[] = [];
  const failures: Failure[] = [];
  for (const id of ids) {
    const f = await deleteOne(ctx, repo, id, deleted);
    if (f) failures.push(f);
  }
  return { imageIds: deleted, failures };
};

export const IMAGE_ACTIONS: Record<string, EcrAction> = {
  DescribeImages: describeImages,
  ListImages: listImages,
  BatchGetImage: batchGetImage,
  PutImage: putImage,
  BatchDeleteImage: batchDeleteImage,
};
