// `hoist push` configuration: every setting parsed into a value type and validated before any
// network call, with every problem reported together (DESIGN §1), each naming its variable,
// flag or hoist.yaml key. Precedence: flags > environment > hoist.yaml > defaults
// (settings.ts has the table).

import { assertNoProblems, type Problem } from '../errors.ts';
import { type IdTokenSource } from '../model/id-token.ts';
import { type ImageReference } from '../model/reference.ts';
import { type Tag, parseTag } from '../model/tag.ts';
import { DEFAULT_TAG_RULES, type TagRule, parseTagRule } from '../model/tag-rule.ts';
import { collect } from '../model/value.ts';
import { type AwsSettings, resolveAws } from './aws.ts';
import { type BuildSettings, resolveBuild } from './build.ts';
import { type FileSettings, readConfigFile } from './file.ts';
import { resolveIdToken } from './id-token.ts';
import { type RepositorySettings, resolveRepository } from './repository.ts';
import { type Env, FILE_KEYS, type PushFlags, type Resolver, list, scalar } from './settings.ts';

export type { PushFlags } from './settings.ts';

export interface PushConfigInput {
  env: Env;
  flags: PushFlags;
  /** hoist.yaml, already read by the caller. */
  file?: { path: string; text: string };
  /** The time used for a generated session name; defaults to now. */
  now?: Date;
}

export interface TagSettings {
  /** --tag, else IMAGE_TAG, else hoist.yaml `tag`: always pushed. */
  explicit: Tag[];
  rules: TagRule[];
  /** No tag and no rule was given: `rules` are DEFAULT_TAG_RULES (short SHA, latest on the default branch). */
  defaulted: boolean;
}

export interface PushConfig {
  aws: AwsSettings;
  idToken: IdTokenSource;
  /** Registry and repository, no tag: `831955480324.dkr.ecr.ap-south-1.amazonaws.com/order-microservice`. */
  image: ImageReference;
  repository: RepositorySettings;
  tags: TagSettings;
  build: BuildSettings;
  output: { json: boolean; dotenv?: string };
  /** Where each setting came from, e.g. `region: 'AWS_REGION (environment)'`, for reports and doctor. */
  sources: Record<string, string>;
}

export interface PushConfigCheck {
  config?: PushConfig;
  problems: Problem[];
}

/** Resolves the configuration or throws one HoistError (`config.invalid`) listing every problem. */
export function resolvePushConfig(input: PushConfigInput): PushConfig {
  const { config, problems } = checkPushConfig(input);
  assertNoProblems(problems, 'hoist push configuration');
  return config!;
}

/** The same, without throwing: callers that have more checks of their own can report them all together. */
export function checkPushConfig(input: PushConfigInput): PushConfigCheck {
  const r: Resolver = { env: input.env, flags: input.flags, file: loadFile(input.file), problems: [], sources: {} };
  r.problems.push(...r.file.problems);
  const aws = resolveAws(r, input.now ?? new Date());
  const idToken = resolveIdToken(r, aws?.partition);
  const repository = resolveRepository(r);
  const image = aws && repository ? { registry: aws.registry, repository: repository.name } : undefined;
  const tags = resolveTags(r);
  const build = resolveBuild(r, image);
  const output = resolveOutput(r);
  if (r.problems.length > 0 || !aws || !idToken || !repository || !image) return { problems: r.problems };
  return { config: { aws, idToken, image, repository, tags, build, output, sources: r.sources }, problems: [] };
}

function loadFile(file: PushConfigInput['file']): FileSettings {
  return file === undefined ? { entries: new Map(), problems: [] } : readConfigFile(file.path, file.text, FILE_KEYS);
}

function resolveTags(r: Resolver): TagSettings {
  const explicit = list(r, 'tag').flatMap(({ value, source }) => collect(parseTag(value, source), r.problems) ?? []);
  const given = list(r, 'tag-rule').flatMap(({ value, source }) => collect(parseTagRule(value, source), r.problems) ?? []);
  const defaulted = explicit.length === 0 && given.length === 0 && !('tag' in r.sources) && !('tag-rule' in r.sources);
  if (defaulted) r.sources['tag-rule'] = 'default';
  return { explicit: [...new Set(explicit)], rules: defaulted ? [...DEFAULT_TAG_RULES] : given, defaulted };
}

function resolveOutput(r: Resolver): PushConfig['output'] {
  const dotenv = scalar(r, 'dotenv')?.value;
  const json = r.flags.json === true;
  return dotenv ? { json, dotenv } : { json };
}
