// AWS identifiers hoist takes from users: account ID, region (and its partition), IAM role
// ARN, STS role session name. Each parser says what is wrong in the user's terms.

import { type Brand, type Parsed, fail, ok, quote } from './value.ts';

export type AccountId = Brand<string, 'AccountId'>;
export type Region = Brand<string, 'Region'>;
export type SessionName = Brand<string, 'SessionName'>;

export type Partition = 'aws' | 'aws-cn' | 'aws-us-gov' | 'aws-iso' | 'aws-iso-b' | 'aws-iso-e' | 'aws-iso-f' | 'aws-eusc';

export interface PartitionInfo {
  id: Partition;
  /** Regional endpoints: `<service>.<region>.<dnsSuffix>`. */
  dnsSuffix: string;
  /** ECR's dual-stack registry hosts: `<account>.dkr-ecr.<region>.<ecrDualStackSuffix>`. */
  ecrDualStackSuffix: string;
  /** The audience STS expects from OIDC tokens in this partition. */
  stsAudience: string;
}

// From the AWS SDK's partitions.json (`@aws-sdk/core` util-endpoints: regionRegex, dnsSuffix).
// The `aws` partition's regionRegex lists country prefixes; new ones appear (il, mx), so any
// region that matches no other partition is taken as `aws`. Dual-stack ECR suffixes follow the
// ECR endpoint list (`on.aws` family), which differs from the SDK's `api.aws`.
const PARTITIONS: ReadonlyArray<PartitionInfo & { regions: RegExp }> = [
  { id: 'aws-cn', regions: /^cn-/, dnsSuffix: 'amazonaws.com.cn', ecrDualStackSuffix: 'on.amazonwebservices.com.cn', stsAudience: 'sts.amazonaws.com.cn' },
  { id: 'aws-us-gov', regions: /^us-gov-/, dnsSuffix: 'amazonaws.com', ecrDualStackSuffix: 'on.aws', stsAudience: 'sts.amazonaws.com' },
  { id: 'aws-iso', regions: /^us-iso-/, dnsSuffix: 'c2s.ic.gov', ecrDualStackSuffix: 'on.aws.ic.gov', stsAudience: 'sts.amazonaws.com' },
  { id: 'aws-iso-b', regions: /^us-isob-/, dnsSuffix: 'sc2s.sgov.gov', ecrDualStackSuffix: 'on.aws.scloud', stsAudience: 'sts.amazonaws.com' },
  { id: 'aws-iso-e', regions: /^eu-isoe-/, dnsSuffix: 'cloud.adc-e.uk', ecrDualStackSuffix: 'on.cloud-aws.adc-e.uk', stsAudience: 'sts.amazonaws.com' },
  { id: 'aws-iso-f', regions: /^us-isof-/, dnsSuffix: 'csp.hci.ic.gov', ecrDualStackSuffix: 'on.aws.hci.ic.gov', stsAudience: 'sts.amazonaws.com' },
  { id: 'aws-eusc', regions: /^eusc-/, dnsSuffix: 'amazonaws.eu', ecrDualStackSuffix: 'on.amazonwebservices.eu', stsAudience: 'sts.amazonaws.com' },
  { id: 'aws', regions: /^/, dnsSuffix: 'amazonaws.com', ecrDualStackSuffix: 'on.aws', stsAudience: 'sts.amazonaws.com' },
];

export const PARTITION_IDS: readonly Partition[] = PARTITIONS.map((p) => p.id);

export function partitionInfo(id: Partition): PartitionInfo {
  return PARTITIONS.find((p) => p.id === id)!;
}

export function partitionOf(region: Region): Partition {
  return PARTITIONS.find((p) => p.regions.test(region))!.id;
}

export function isPartition(raw: string): raw is Partition {
  return (PARTITION_IDS as readonly string[]).includes(raw);
}

// ---- account ID ----------------------------------------------------------------------------

/** An AWS account ID is exactly 12 digits (IAM User Guide, "AWS account identifiers"). */
export function parseAccountId(raw: string, source = 'account ID'): Parsed<AccountId> {
  if (/^\d{12}$/.test(raw)) return ok(raw as AccountId);
  const bad = (why: string, hint?: string) => fail(source, `${quote(raw)} is not an AWS account ID: ${why}`, hint);
  if (/^\d{4}-\d{4}-\d{4}$/.test(raw)) return bad('it has dashes', `Write it as 12 digits: ${raw.replaceAll('-', '')}.`);
  if (/^\d{1,11}$/.test(raw)) {
    return bad(`it has ${raw.length} digits, not 12`,
      'Account IDs that start with 0 lose their leading zeros when YAML reads them as numbers: quote the value.');
  }
  return bad('it must be exactly 12 digits', 'Find it with `aws sts get-caller-identity --query Account`.');
}

// ---- region --------------------------------------------------------------------------------

const REGION = /^[a-z]{2,4}(?:-[a-z]+){1,2}-\d{1,2}$/;

/** Region codes such as `ap-south-1`, `us-gov-west-1`, `cn-north-1`, `eusc-de-east-1`. */
export function parseRegion(raw: string, source = 'region'): Parsed<Region> {
  if (REGION.test(raw)) return ok(raw as Region);
  const bad = (why: string, hint?: string) => fail(source, `${quote(raw)} is not an AWS region: ${why}`, hint);
  const lower = raw.trim().toLowerCase();
  if (lower !== raw && REGION.test(lower)) return bad('region codes are lowercase', `Use ${lower}.`);
  if (/[a-z]$/.test(raw) && REGION.test(raw.slice(0, -1))) {
    return bad('that is an availability zone', `Use its region, ${raw.slice(0, -1)}.`);
  }
  const dashed = raw.replace(/([a-z])(\d{1,2})$/, '$1-$2');
  if (REGION.test(dashed)) return bad('the number needs a dash before it', `Use ${dashed}.`);
  return bad('expected a region code like ap-south-1 or us-east-1',
    'Region codes are listed by `aws ec2 describe-regions`; names like "Mumbai" are not accepted.');
}

// ---- IAM role ARN --------------------------------------------------------------------------

export interface RoleArn {
  /** The ARN as written: `arn:<partition>:iam::<account>:role/<path/><name>`. */
  arn: string;
  partition: Partition;
  account: AccountId;
  /** `/` or `/a/b/` (IAM paths start and end with a slash). */
  path: string;
  name: string;
}

// IAM API reference, Role: RoleName `[\w+=,.@-]+`, 1–64 characters; Path `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`, ≤ 512.
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
const ROLE_PATH = /^\/(?:[\u0021-\u007E]*\/)?$/;
const ARN_SHAPE = 'arn:<partition>:iam::<account>:role/<name>';

export function parseRoleArn(raw: string, source = 'role ARN'): Parsed<RoleArn> {
  const bad = (why: string, hint = `An IAM role ARN looks like ${ARN_SHAPE}.`) =>
    fail(source, `${quote(raw)} is not an IAM role ARN: ${why}`, hint);
  const parts = raw.split(':');
  if (parts[0] !== 'arn' || parts.length < 6) {
    return ROLE_NAME.test(raw) ? bad('it is a role name', `Use the full ARN: arn:aws:iam::<account>:role/${raw}.`) : bad(`expected ${ARN_SHAPE}`);
  }
  const [, partition = '', service, region, account = '', ...rest] = parts;
  const resource = rest.join(':');
  if (!isPartition(partition)) return bad(`unknown partition ${quote(partition)}`, `Partitions are ${PARTITION_IDS.join(', ')}.`);
  if (service === 'sts' && resource.startsWith('assumed-role/')) return assumedRole(bad, partition, account, resource);
  if (service !== 'iam') return bad(`it is an ARN for ${quote(service ?? '')}, not IAM`);
  if (region !== '') return bad('IAM ARNs have no region', `Remove the region: arn:${partition}:iam::${account}:${resource}.`);
  if (!/^\d{12}$/.test(account)) return bad(`the account ${quote(account)} is not 12 digits`);
  return roleResource(bad, raw, partition, account as AccountId, resource);
}

type Bad = (why: string, hint?: string) => Parsed<never>;

function roleResource(bad: Bad, arn: string, partition: Partition, account: AccountId, resource: string): Parsed<RoleArn> {
  const type = resource.split('/')[0];
  if (type !== 'role') return bad(`it names an IAM ${type === '' ? 'resource' : type}, not a role`, 'hoist assumes a role; use the ARN of the role the trust policy belongs to.');
  const cut = resource.lastIndexOf('/');
  const path = resource.slice(4, cut + 1);
  const name = resource.slice(cut + 1);
  if (!ROLE_PATH.test(path) || path.length > 512) return bad(`the role path ${quote(path)} is not valid`);
  if (!ROLE_NAME.test(name)) return bad(roleNameProblem(name));
  return ok({ arn, partition, account, path, name });
}

function roleNameProblem(name: string): string {
  if (name.length === 0) return 'the role name is empty';
  if (name.length > 64) return `the role name has ${name.length} characters; IAM allows 64`;
  return 'role names use only letters, digits and + = , . @ _ -';
}

function assumedRole(bad: Bad, partition: string, account: string, resource: string): Parsed<never> {
  const role = resource.split('/')[1] ?? '<name>';
  return bad('it is an assumed-role session ARN (what GetCallerIdentity prints), not the role',
    `Use the role's ARN: arn:${partition}:iam::${account}:role/${role}.`);
}

export function formatRoleArn(r: Pick<RoleArn, 'partition' | 'account' | 'path' | 'name'>): string {
  return `arn:${r.partition}:iam::${r.account}:role${r.path}${r.name}`;
}

// ---- STS role session name -----------------------------------------------------------------

// STS AssumeRoleWithWebIdentity: RoleSessionName is 2–64 characters of `[\w+=,.@-]`.
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

export function parseSessionName(raw: string, source = 'role session name'): Parsed<SessionName> {
  if (SESSION_NAME.test(raw)) return ok(raw as SessionName);
  const why = raw.length < 2 || raw.length > 64 ? `it has ${raw.length} character${raw.length === 1 ? '' : 's'}; STS allows 2 to 64` : 'STS allows only letters, digits and + = , . @ _ -';
  const fixed = sanitizeSessionName(raw);
  return fail(source, `${quote(raw)} is not a valid role session name: ${why}`, fixed ? `Use ${fixed}.` : undefined);
}

/** Makes generated names valid: other characters become `-`, cut to 64; undefined when < 2 remain. */
export function sanitizeSessionName(raw: string): SessionName | undefined {
  const name = raw.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  return SESSION_NAME.test(name) ? (name as SessionName) : undefined;
}

// ---- ECR registry host ---------------------------------------------------------------------

export interface EcrRegistry {
  /** `<account>.dkr.ecr.<region>.amazonaws.com`, or one of its FIPS / dual-stack forms. */
  host: string;
  account: AccountId;
  region: Region;
  partition: Partition;
  fips: boolean;
  dualStack: boolean;
}

export interface EcrHostOptions {
  fips?: boolean;
  dualStack?: boolean;
}

// ECR endpoints (AWS General Reference, "Amazon ECR endpoints and quotas"): the registry is
// `<account>.dkr.ecr[-fips].<region>.<dnsSuffix>`, dual-stack `<account>.dkr-ecr[-fips].<region>.on.aws`.
export function ecrRegistry(account: AccountId, region: Region, options: EcrHostOptions = {}): EcrRegistry {
  const partition = partitionOf(region);
  const info = partitionInfo(partition);
  const fips = options.fips ?? false;
  const dualStack = options.dualStack ?? false;
  const label = `${dualStack ? 'dkr-ecr' : 'dkr.ecr'}${fips ? '-fips' : ''}`;
  const suffix = dualStack ? info.ecrDualStackSuffix : info.dnsSuffix;
  return { host: `${account}.${label}.${region}.${suffix}`, account, region, partition, fips, dualStack };
}

const ECR_HOST = /^([^.]+)\.(dkr\.ecr|dkr-ecr)(-fips)?\.([^.]+)\.(.+)$/;

/** True when the text is meant as an ECR private registry host (so it gets ECR's checks). */
export function looksLikeEcrHost(raw: string): boolean {
  return /\.dkr[.-]ecr(?:-fips)?\./i.test(raw);
}

/** Parses a registry host back into account and region; accepts `https://` and a trailing `/`. */
export function parseEcrHost(raw: string, source = 'registry'): Parsed<EcrRegistry> {
  const host = raw.trim().toLowerCase().replace(/^https:\/\//, '').replace(/\/$/, '');
  const bad = (why: string) => fail(source, `${quote(raw)} is not an ECR registry host: ${why}`,
    'ECR registries look like <account>.dkr.ecr.<region>.amazonaws.com.');
  const m = ECR_HOST.exec(host);
  if (!m) return bad('expected <account>.dkr.ecr.<region>.<domain>');
  const [, account = '', label, fipsTag, rawRegion = '', suffix] = m;
  if (!/^\d{12}$/.test(account)) return bad(`the account ${quote(account)} is not 12 digits`);
  const region = parseRegion(rawRegion, source);
  if (!region.ok) return region;
  const expected = ecrRegistry(account as AccountId, region.value, { fips: fipsTag !== undefined, dualStack: label === 'dkr-ecr' });
  if (expected.host !== host) return bad(`registries in ${rawRegion} end in .${expected.host.split(`.${rawRegion}.`)[1]}, not .${suffix}`);
  return ok(expected);
}
