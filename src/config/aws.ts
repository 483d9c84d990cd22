// The AWS side of `hoist push`: account, region, role, registry host, endpoint, STS session.
// The account may be left out when the role ARN names it (the seed sets both, and a mismatch
// between them is the classic copy-paste error, so it is reported rather than guessed at).

import {
  type AccountId, type EcrRegistry, type Partition, type Region, type RoleArn, type SessionName,
  ecrRegistry, looksLikeEcrHost, parseAccountId, parseEcrHost, parseRegion, parseRoleArn, parseSessionName, partitionOf, sanitizeSessionName,
} from '../model/aws.ts';
import { type RegistryHost, parseRegistryHost } from '../model/reference.ts';
import { collect, type Parsed } from '../model/value.ts';
import { type Raw, type Resolver, envSource, envValue, scalar } from './settings.ts';

export interface AwsSettings {
  account: AccountId;
  region: Region;
  partition: Partition;
  roleArn: RoleArn;
  /** AWS_ENDPOINT_URL / --endpoint-url: one endpoint for every AWS service (the sandbox, LocalStack). */
  endpoint?: string;
  sessionName: SessionName;
  /** STS DurationSeconds; unset means the STS default (3600). */
  durationSeconds?: number;
  /** Where images go: the ECR host for account + region, or --registry. */
  registry: RegistryHost;
}

export function resolveAws(r: Resolver, now: Date): AwsSettings | undefined {
  const roleArn = parsed(r, 'role-arn', parseRoleArn);
  const registry = resolveRegistryOverride(r);
  const region = parsed(r, 'region', parseRegion) ?? fromRegistry(r, 'region', registry?.ecr?.region);
  const account = resolveAccount(r, roleArn) ?? fromRegistry(r, 'account', registry?.ecr?.account);
  requireSet(r, roleArn, 'role-arn', 'AWS_ROLE_ARN', '--role-arn', 'Set AWS_ROLE_ARN to the IAM role the ID token may assume, e.g. arn:aws:iam::831955480324:role/gitlab-runner-ecr-role.');
  requireSet(r, region, 'region', 'AWS_REGION', '--region', 'Set AWS_REGION (e.g. ap-south-1), as the seed pipeline does, or pass --region.');
  checkPartition(r, roleArn, region);
  checkRegistry(r, registry?.ecr, account, region);
  const endpoint = resolveEndpoint(r);
  const sessionName = resolveSessionName(r, now);
  const durationSeconds = resolveDuration(r);
  if (!roleArn || !region || !account || !sessionName) return undefined;
  const host = registry?.host ?? (ecrRegistry(account, region).host as RegistryHost);
  return compact({ account, region, partition: partitionOf(region), roleArn, registry: host, endpoint, sessionName, durationSeconds });
}

/** Account and region may come from an ECR --registry host when nothing else sets them. */
function fromRegistry<T>(r: Resolver, key: 'region' | 'account', value: T | undefined): T | undefined {
  if (value !== undefined && !(key in r.sources)) r.sources[key] = r.sources.registry!;
  return value;
}

function parsed<T>(r: Resolver, key: 'role-arn' | 'region' | 'account' | 'session-name', parse: (raw: string, source: string) => Parsed<T>): T | undefined {
  const raw = scalar(r, key);
  return raw === undefined ? undefined : collect(parse(raw.value, raw.source), r.problems);
}

function requireSet(r: Resolver, value: unknown, key: string, variable: string, flag: string, hint: string): void {
  if (value !== undefined || key in r.sources) return;
  r.problems.push({ source: envSource(variable), message: `${variable} is not set (nor ${flag}, nor ${key} in hoist.yaml)`, hint });
}

/** AWS_ACCOUNT_ID when given (and then it must match the role's account), else the role's. */
function resolveAccount(r: Resolver, role: RoleArn | undefined): AccountId | undefined {
  const raw = scalar(r, 'account');
  const account = raw === undefined ? undefined : collect(parseAccountId(raw.value, raw.source), r.problems);
  if (raw && account && role && role.account !== account) r.problems.push(accountMismatch(r, raw, role));
  if (raw === undefined && role) r.sources.account = r.sources['role-arn']!;
  return account ?? role?.account;
}

function accountMismatch(r: Resolver, account: Raw, role: RoleArn) {
  const roleSource = r.sources['role-arn']!;
  return {
    source: account.source,
    message: `the role ARN is in another account: ${roleSource} names a role in account ${role.account}, but ${account.source} is ${account.value}`,
    hint: `hoist assumes the role and pushes to the same account's registry: make ${account.source.split(' ')[0]} and the account in the role ARN agree.`,
  };
}

function checkPartition(r: Resolver, role: RoleArn | undefined, region: Region | undefined): void {
  if (!role || !region || partitionOf(region) === role.partition) return;
  r.problems.push({
    source: r.sources['role-arn']!,
    message: `the role ARN is in partition ${role.partition}, but region ${region} is in ${partitionOf(region)}`,
    hint: `Roles in ${partitionOf(region)} have ARNs starting arn:${partitionOf(region)}:iam::.`,
  });
}

interface RegistryOverride {
  host: RegistryHost;
  ecr?: EcrRegistry;
}

/** --registry: an ECR host is parsed (and checked against account and region); any other host is taken as is. */
function resolveRegistryOverride(r: Resolver): RegistryOverride | undefined {
  const raw = scalar(r, 'registry');
  if (raw === undefined) return undefined;
  if (looksLikeEcrHost(raw.value)) {
    const ecr = collect(parseEcrHost(raw.value, raw.source), r.problems);
    return ecr && { host: ecr.host as RegistryHost, ecr };
  }
  const host = collect(parseRegistryHost(raw.value, raw.source), r.problems);
  return host && { host };
}

function checkRegistry(r: Resolver, ecr: EcrRegistry | undefined, account: AccountId | undefined, region: Region | undefined): void {
  if (!ecr) return;
  const source = r.sources.registry!;
  if (account && ecr.account !== account) {
    r.problems.push({ source, message: `the registry is in account ${ecr.account}, but the account is ${account} (${r.sources.account})`, hint: 'Leave --registry out: hoist derives it from the account and region.' });
  }
  if (region && ecr.region !== region) {
    r.problems.push({ source, message: `the registry is in region ${ecr.region}, but the region is ${region} (${r.sources.region})`, hint: 'Leave --registry out: hoist derives it from the account and region.' });
  }
}

function resolveEndpoint(r: Resolver): string | undefined {
  const raw = scalar(r, 'endpoint-url');
  if (raw === undefined) return undefined;
  if (URL.canParse(raw.value) && /^https?:$/.test(new URL(raw.value).protocol)) return raw.value;
  r.problems.push({ source: raw.source, message: `${JSON.stringify(raw.value)} is not an http(s) URL`, hint: 'For example http://127.0.0.1:4566 for `hoist sandbox`.' });
  return undefined;
}

/** AWS_ROLE_SESSION_NAME, else the seed's `gitlab-$CI_PIPELINE_ID`, else `hoist-<UTC time>`. */
function resolveSessionName(r: Resolver, now: Date): SessionName | undefined {
  if (scalar(r, 'session-name') !== undefined) return parsed(r, 'session-name', parseSessionName);
  const pipeline = envValue(r.env, 'CI_PIPELINE_ID');
  const generated = pipeline === undefined ? undefined : sanitizeSessionName(`gitlab-${pipeline}`);
  r.sources['session-name'] = generated ? envSource('CI_PIPELINE_ID') : 'default';
  return generated ?? (`hoist-${now.toISOString().replace(/[-:]|\.\d{3}/g, '')}` as SessionName);
}

// STS AssumeRoleWithWebIdentity DurationSeconds: 900 to 43200 (and at most the role's MaxSessionDuration).
const DURATION = { min: 900, max: 43200 };
const UNIT: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600 };

function resolveDuration(r: Resolver): number | undefined {
  const raw = scalar(r, 'duration');
  if (raw === undefined) return undefined;
  const m = /^(\d+)\s*([smh]?)$/.exec(raw.value);
  const seconds = m ? Number(m[1]) * UNIT[m[2]!]! : NaN;
  if (seconds >= DURATION.min && seconds <= DURATION.max) return seconds;
  r.problems.push({
    source: raw.source,
    message: `${JSON.stringify(raw.value)} is not a session duration from ${DURATION.min} to ${DURATION.max} seconds`,
    hint: 'STS allows 900 s (15 min) to 43200 s (12 h), and no more than the role\'s maximum session duration; 3600, 90m and 2h are accepted.',
  });
  return undefined;
}

function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
