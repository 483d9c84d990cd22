// Where each `hoist push` setting can come from, and the lookup that applies the precedence:
//
//   1. flags           (--region ap-south-1)
//   2. environment     (AWS_REGION, then AWS_DEFAULT_REGION; the seed's variables, GitLab's CI_*,
//                       the AWS SDK's standard ones)
//   3. hoist.yaml      (region: ap-south-1)
//   4. defaults / derived values (account from the role ARN, registry from account + region)
//
// The first layer that sets a value wins, whole: `--tag a` replaces IMAGE_TAG rather than
// adding to it. Environment values are trimmed and an empty one counts as unset, because CI
// systems export unset variables as "".

import { type Problem } from '../errors.ts';
import { type FileSettings, type KeyShape } from './file.ts';

export type Env = Readonly<Record<string, string | undefined>>;

/** `hoist push` flags as the CLI parsed them: raw text, validated here with everything else. */
export interface PushFlags {
  repository?: string;
  tag?: readonly string[];
  tagRule?: readonly string[];
  region?: string;
  account?: string;
  roleArn?: string;
  context?: string;
  file?: string;
  buildArg?: readonly string[];
  target?: string;
  /** One platform or a comma-separated list, as `docker build --platform`. */
  platform?: string;
  label?: readonly string[];
  cacheFrom?: readonly string[];
  endpointUrl?: string;
  registry?: string;
  idTokenVar?: string;
  sessionName?: string;
  duration?: string | number;
  /** false for --no-create-repository. */
  createRepository?: boolean;
  tagMutability?: string;
  scanOnPush?: boolean;
  encryption?: string;
  kmsKey?: string;
  /** false for --no-pull. */
  pull?: boolean;
  json?: boolean;
  dotenv?: string;
}

interface Setting {
  flag: keyof PushFlags;
  shape: KeyShape;
  env?: readonly string[];
}

/** The settings table: hoist.yaml key → flag and environment variables, in precedence order. */
export const SETTINGS = {
  repository: { flag: 'repository', shape: 'scalar', env: ['ECR_REPOSITORY'] },
  tag: { flag: 'tag', shape: 'list', env: ['IMAGE_TAG'] },
  'tag-rule': { flag: 'tagRule', shape: 'list' },
  region: { flag: 'region', shape: 'scalar', env: ['AWS_REGION', 'AWS_DEFAULT_REGION'] },
  account: { flag: 'account', shape: 'scalar', env: ['AWS_ACCOUNT_ID'] },
  'role-arn': { flag: 'roleArn', shape: 'scalar', env: ['AWS_ROLE_ARN'] },
  context: { flag: 'context', shape: 'scalar' },
  file: { flag: 'file', shape: 'scalar' },
  'build-arg': { flag: 'buildArg', shape: 'map' },
  target: { flag: 'target', shape: 'scalar' },
  platform: { flag: 'platform', shape: 'scalar' },
  label: { flag: 'label', shape: 'map' },
  'cache-from': { flag: 'cacheFrom', shape: 'list' },
  'endpoint-url': { flag: 'endpointUrl', shape: 'scalar', env: ['AWS_ENDPOINT_URL'] },
  registry: { flag: 'registry', shape: 'scalar' },
  'id-token-var': { flag: 'idTokenVar', shape: 'scalar' },
  'session-name': { flag: 'sessionName', shape: 'scalar', env: ['AWS_ROLE_SESSION_NAME'] },
  duration: { flag: 'duration', shape: 'scalar' },
  'create-repository': { flag: 'createRepository', shape: 'scalar' },
  'tag-mutability': { flag: 'tagMutability', shape: 'scalar' },
  'scan-on-push': { flag: 'scanOnPush', shape: 'scalar' },
  encryption: { flag: 'encryption', shape: 'scalar' },
  'kms-key': { flag: 'kmsKey', shape: 'scalar' },
  pull: { flag: 'pull', shape: 'scalar' },
  dotenv: { flag: 'dotenv', shape: 'scalar' },
} as const satisfies Record<string, Setting>;

export type SettingKey = keyof typeof SETTINGS;

export const FILE_KEYS: Readonly<Record<string, KeyShape>> = Object.fromEntries(
  Object.entries(SETTINGS).map(([k, s]) => [k, s.shape]),
);

/** A raw value and where it came from, e.g. `{ value: 'ap-south-1', source: 'AWS_REGION (environment)' }`. */
export interface Raw<T = string> {
  value: T;
  source: string;
}

/** One resolution: the three layers, the problems found so far, and the source of each setting. */
export interface Resolver {
  env: Env;
  flags: PushFlags;
  file: FileSettings;
  problems: Problem[];
  sources: Record<string, string>;
}

/** Records a problem; returns undefined so resolvers can `return report(r, …)`. */
export function report(r: Resolver, problem: Problem): undefined {
  r.problems.push(problem);
  return undefined;
}

export const envSource = (name: string) => `${name} (environment)`;

export function envValue(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function flagSource(key: SettingKey, value: unknown): string {
  if (value === false && (key === 'create-repository' || key === 'pull')) return `--no-${key}`;
  return `--${key}`;
}

/** The winning raw text of a single-valued setting; booleans and numbers come back as text. */
export function scalar(r: Resolver, key: SettingKey): Raw | undefined {
  const flag = r.flags[SETTINGS[key].flag];
  const found = flag !== undefined && !Array.isArray(flag) ? { value: String(flag).trim(), source: flagSource(key, flag) }
    : fromEnv(r.env, key) ?? fromFile(r, key);
  if (found) r.sources[key] = found.source;
  return found;
}

/** A list setting: every item carries its source, so a bad `--tag` is named as such. */
export function list(r: Resolver, key: SettingKey): Raw[] {
  const flag = r.flags[SETTINGS[key].flag];
  const items: Raw[] = Array.isArray(flag) && flag.length > 0 ? flag.map((v: string) => ({ value: v.trim(), source: flagSource(key, v) }))
    : [fromEnv(r.env, key) ?? fromFileList(r, key)].flat().filter((x): x is Raw => x !== undefined);
  if (items[0]) r.sources[key] = items[0].source;
  return items;
}

function fromEnv(env: Env, key: SettingKey): Raw | undefined {
  const names = (SETTINGS[key] as Setting).env ?? [];
  for (const name of names) {
    const value = envValue(env, name);
    if (value !== undefined) return { value, source: envSource(name) };
  }
  return undefined;
}

function fromFile(r: Resolver, key: SettingKey): Raw | undefined {
  const entry = r.file.entries.get(key);
  return entry && typeof entry.value === 'string' && entry.value !== '' ? { value: entry.value.trim(), source: entry.source } : undefined;
}

function fromFileList(r: Resolver, key: SettingKey): Raw[] {
  const entry = r.file.entries.get(key);
  if (!entry) return [];
  return [entry.value].flat().map((value) => ({ value: value.trim(), source: entry.source }));
}

/** Booleans: flags are real booleans; environment and file text must say true or false. */
export function bool(r: Resolver, key: SettingKey, fallback: boolean): boolean {
  const raw = scalar(r, key);
  if (raw === undefined) return fallback;
  const v = raw.value.toLowerCase();
  if (v === 'true' || v === 'false') return v === 'true';
  report(r, { source: raw.source, message: `${JSON.stringify(raw.value)} is not true or false` });
  return fallback;
}
