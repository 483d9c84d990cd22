// AWS value types: account IDs, regions and partitions, role ARNs, ECR hosts, session names.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type AccountId, type Region, ecrRegistry, formatRoleArn, looksLikeEcrHost, parseAccountId, parseEcrHost,
  parseRegion, parseRoleArn, parseSessionName, partitionOf, sanitizeSessionName,
} from '../src/model/aws.ts';
import { type Parsed, orThrow } from '../src/model/value.ts';

/** The problem's message, or 'ok'; the tables below read as "input → what the user is told". */
function said<T>(p: Parsed<T>): string {
  return p.ok ? 'ok' : p.problem.message;
}

function hint<T>(p: Parsed<T>): string | undefined {
  return p.ok ? undefined : p.problem.hint;
}

test('account IDs are exactly 12 digits, and the message says what is off', () => {
  const table: Array<[string, string]> = [
    ['831955480324', 'ok'],
    ['012345678901', 'ok'],
    ['12345678901', '"12345678901" is not an AWS account ID: it has 11 digits, not 12'],
    ['8319-5548-0324', '"8319-5548-0324" is not an AWS account ID: it has dashes'],
    ['83195548032x', '"83195548032x" is not an AWS account ID: it must be exactly 12 digits'],
    ['', '"" is not an AWS account ID: it must be exactly 12 digits'],
  ];
  for (const [raw, expected] of table) assert.equal(said(parseAccountId(raw)), expected, raw);
  assert.match(hint(parseAccountId('12345678901'))!, /leading zeros .* quote the value/);
  assert.equal(hint(parseAccountId('8319-5548-0324')), 'Write it as 12 digits: 831955480324.');
});

test('regions: codes of every partition pass; common mistakes get a precise fix', () => {
  for (const ok of ['ap-south-1', 'us-east-1', 'us-gov-west-1', 'cn-north-1', 'cn-northwest-1', 'us-iso-east-1', 'us-isob-east-1', 'eu-isoe-west-1', 'eusc-de-east-1', 'il-central-1', 'mx-central-1']) {
    assert.equal(said(parseRegion(ok)), 'ok', ok);
  }
  const table: Array<[string, string, string | undefined]> = [
    ['AP-SOUTH-1', 'region codes are lowercase', 'Use ap-south-1.'],
    ['ap-south-1a', 'that is an availability zone', 'Use its region, ap-south-1.'],
    ['us-east1', 'the number needs a dash before it', 'Use us-east-1.'],
    ['Mumbai', 'expected a region code like ap-south-1 or us-east-1', undefined],
    ['', 'expected a region code like ap-south-1 or us-east-1', undefined],
  ];
  for (const [raw, why, fix] of table) {
    const p = parseRegion(raw, 'AWS_REGION (environment)');
    assert.equal(said(p), `${JSON.stringify(raw)} is not an AWS region: ${why}`, raw);
    assert.equal(p.ok ? '' : p.problem.source, 'AWS_REGION (environment)');
    if (fix) assert.equal(hint(p), fix);
  }
});

test('partitions follow the region prefix', () => {
  const table: Array<[string, string]> = [
    ['ap-south-1', 'aws'], ['us-gov-west-1', 'aws-us-gov'], ['cn-north-1', 'aws-cn'], ['us-iso-east-1', 'aws-iso'],
    ['us-isob-east-1', 'aws-iso-b'], ['eu-isoe-west-1', 'aws-iso-e'], ['us-isof-south-1', 'aws-iso-f'], ['eusc-de-east-1', 'aws-eusc'],
  ];
  for (const [region, partition] of table) assert.equal(partitionOf(orThrow(parseRegion(region))), partition, region);
});

test('role ARNs are parsed into partition, account, path and name', () => {
  assert.deepEqual(orThrow(parseRoleArn('arn:aws:iam::831955480324:role/gitlab-runner-ecr-role')), {
    arn: 'arn:aws:iam::831955480324:role/gitlab-runner-ecr-role', partition: 'aws', account: '831955480324', path: '/', name: 'gitlab-runner-ecr-role',
  });
  const nested = orThrow(parseRoleArn('arn:aws-cn:iam::123456789012:role/ci/gitlab/pusher'));
  assert.deepEqual([nested.partition, nested.path, nested.name], ['aws-cn', '/ci/gitlab/', 'pusher']);
  assert.equal(formatRoleArn(nested), 'arn:aws-cn:iam::123456789012:role/ci/gitlab/pusher');
  assert.equal(said(parseRoleArn('arn:aws-us-gov:iam::123456789012:role/a+b=c,d.e@f_g-h')), 'ok');
});

test('role ARN mistakes: a name, a session ARN, a user, a region, a bad name', () => {
  const why = (raw: string) => said(parseRoleArn(raw)).replace(/^".*" is not an IAM role ARN: /, '');
  assert.equal(why('gitlab-runner-ecr-role'), 'it is a role name');
  assert.equal(hint(parseRoleArn('gitlab-runner-ecr-role')), 'Use the full ARN: arn:aws:iam::<account>:role/gitlab-runner-ecr-role.');
  assert.equal(why('arn:aws:sts::831955480324:assumed-role/gitlab-runner-ecr-role/gitlab-42'), 'it is an assumed-role session ARN (what GetCallerIdentity prints), not the role');
  assert.equal(hint(parseRoleArn('arn:aws:sts::831955480324:assumed-role/gitlab-runner-ecr-role/gitlab-42')), "Use the role's ARN: arn:aws:iam::831955480324:role/gitlab-runner-ecr-role.");
  assert.equal(why('arn:aws:iam::831955480324:user/deploy'), 'it names an IAM user, not a role');
  assert.equal(why('arn:aws:iam:ap-south-1:831955480324:role/x'), 'IAM ARNs have no region');
  assert.equal(why('arn:aws:iam::83195548032:role/x'), 'the account "83195548032" is not 12 digits');
  assert.equal(why('arn:azure:iam::831955480324:role/x'), 'unknown partition "azure"');
  assert.equal(why('arn:aws:s3:::bucket'), 'it is an ARN for "s3", not IAM');
  assert.equal(why('arn:aws:iam::831955480324:role/'), 'the role name is empty');
  assert.equal(why(`arn:aws:iam::831955480324:role/${'r'.repeat(65)}`), 'the role name has 65 characters; IAM allows 64');
  assert.equal(why('arn:aws:iam::831955480324:role/my role'), 'role names use only letters, digits and + = , . @ _ -');
});

test('ECR registry hosts are built per partition, with FIPS and dual-stack forms', () => {
  const acct = '831955480324' as AccountId;
  const host = (region: string, o = {}) => ecrRegistry(acct, region as Region, o).host;
  assert.equal(host('ap-south-1'), '831955480324.dkr.ecr.ap-south-1.amazonaws.com');
  assert.equal(host('cn-north-1'), '831955480324.dkr.ecr.cn-north-1.amazonaws.com.cn');
  assert.equal(host('us-gov-west-1', { fips: true }), '831955480324.dkr.ecr-fips.us-gov-west-1.amazonaws.com');
  assert.equal(host('us-east-1', { dualStack: true }), '831955480324.dkr-ecr.us-east-1.on.aws');
  assert.equal(host('us-east-1', { dualStack: true, fips: true }), '831955480324.dkr-ecr-fips.us-east-1.on.aws');
  assert.equal(host('eusc-de-east-1'), '831955480324.dkr.ecr.eusc-de-east-1.amazonaws.eu');
});

test('ECR hosts parse back to account, region and flavour', () => {
  const seed = orThrow(parseEcrHost('831955480324.dkr.ecr.ap-south-1.amazonaws.com'));
  assert.deepEqual(seed, { host: '831955480324.dkr.ecr.ap-south-1.amazonaws.com', account: '831955480324', region: 'ap-south-1', partition: 'aws', fips: false, dualStack: false });
  const fips = orThrow(parseEcrHost('https://123456789012.dkr-ecr-fips.us-gov-east-1.on.aws/'));
  assert.deepEqual([fips.account, fips.region, fips.partition, fips.fips, fips.dualStack], ['123456789012', 'us-gov-east-1', 'aws-us-gov', true, true]);
  assert.equal(orThrow(parseEcrHost('123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn')).partition, 'aws-cn');
  assert.equal(said(parseEcrHost('123456789012.dkr.ecr.cn-north-1.amazonaws.com')),
    '"123456789012.dkr.ecr.cn-north-1.amazonaws.com" is not an ECR registry host: registries in cn-north-1 end in .amazonaws.com.cn, not .amazonaws.com');
  assert.match(said(parseEcrHost('12345.dkr.ecr.us-east-1.amazonaws.com')), /the account "12345" is not 12 digits/);
  assert.match(said(parseEcrHost('registry.gitlab.com')), /expected <account>\.dkr\.ecr\.<region>\.<domain>/);
  assert.equal(looksLikeEcrHost('831955480324.dkr.ecr.ap-south-1.amazonaws.com'), true);
  assert.equal(looksLikeEcrHost('localhost:5000'), false);
});

test('session names: 2–64 of [\\w+=,.@-]; generated ones are made valid', () => {
  assert.equal(said(parseSessionName('gitlab-123')), 'ok');
  assert.equal(said(parseSessionName('x')), '"x" is not a valid role session name: it has 1 character; STS allows 2 to 64');
  assert.equal(said(parseSessionName('my session')), '"my session" is not a valid role session name: STS allows only letters, digits and + = , . @ _ -');
  assert.equal(hint(parseSessionName('my session')), 'Use my-session.');
  assert.equal(sanitizeSessionName('gitlab-12/34'), 'gitlab-12-34');
  assert.equal(sanitizeSessionName(`gitlab-${'9'.repeat(80)}`)?.length, 64);
  assert.equal(sanitizeSessionName('x'), undefined);
});
