// The security review (the seed's "Security notes"): each weakness flagged on a table of
// policies, and the seed-style least-privilege policies pass.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { reviewCheck, reviewPermissions, reviewTrust, type FindingId } from '../src/doctor/index.ts';
import { parsePolicyValue } from '../src/policy/index.ts';

const PROVIDER = 'arn:aws:iam::831955480324:oidc-provider/gitlab.com';
const SELF_MANAGED = 'arn:aws:iam::831955480324:oidc-provider/gitlab.example.com';
const REPO = 'arn:aws:ecr:ap-south-1:831955480324:repository/order-microservice';
const SEED = ['ecr:BatchCheckLayerAvailability', 'ecr:CompleteLayerUpload', 'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart',
  'ecr:PutImage', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:DescribeRepositories'];

const trustDoc = (condition: object | undefined, federated = PROVIDER, principal?: unknown) => parsePolicyValue({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: principal ?? { Federated: federated }, Action: 'sts:AssumeRoleWithWebIdentity', ...(condition ? { Condition: condition } : {}) }],
}, 'trust', 'trust');
const permsDoc = (statements: object[]) => parsePolicyValue({ Version: '2012-10-17', Statement: statements }, 'permissions', 'identity');

const GOOD_TRUST = {
  StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com', 'gitlab.com:project_id': '4242' },
  StringLike: { 'gitlab.com:sub': 'project_path:mygroup/myrepo:ref_type:branch:ref:*' },
};
const LOGIN = { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' };
const GOOD_PERMS = [LOGIN, { Effect: 'Allow', Action: SEED, Resource: REPO }];

const trustRows: { name: string; condition?: object; federated?: string; principal?: unknown; flags: FindingId[] }[] = [
  { name: 'seed-style: aud StringEquals, sub StringLike on one project, project_id pin', condition: GOOD_TRUST, flags: [] },
  { name: 'exact sub with StringEquals and both ID pins', condition: { StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com', 'gitlab.com:sub': 'project_path:mygroup/myrepo:ref_type:branch:ref:main', 'gitlab.com:project_id': '4242', 'gitlab.com:namespace_id': '1001' } }, flags: [] },
  { name: 'self-managed issuer: only sub and aud exist, no pin expected', federated: SELF_MANAGED, condition: { StringEquals: { 'gitlab.example.com:aud': 'sts.amazonaws.com' }, StringLike: { 'gitlab.example.com:sub': 'project_path:g/p:ref_type:branch:ref:*' } }, flags: [] },
  { name: 'no sub condition: any project can assume the role', condition: { StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com' } }, flags: ['trust.no-sub'] },
  { name: 'no condition at all', flags: ['trust.no-sub', 'trust.no-aud'] },
  { name: 'sub wildcard over a whole group', condition: { ...GOOD_TRUST, StringLike: { 'gitlab.com:sub': 'project_path:mygroup/*:ref_type:branch:ref:*' } }, flags: ['trust.sub-wide'] },
  { name: 'sub "*"', condition: { ...GOOD_TRUST, StringLike: { 'gitlab.com:sub': '*' } }, flags: ['trust.sub-wide'] },
  { name: 'StringLike without a wildcard', condition: { StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com', 'gitlab.com:project_id': '4242' }, StringLike: { 'gitlab.com:sub': 'project_path:mygroup/myrepo:ref_type:branch:ref:main' } }, flags: ['trust.like-no-wildcard'] },
  { name: 'StringEquals with a wildcard', condition: { StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com', 'gitlab.com:project_id': '4242', 'gitlab.com:sub': 'project_path:mygroup/myrepo:*' } }, flags: ['trust.equals-wildcard'] },
  { name: 'missing aud condition', condition: { StringEquals: { 'gitlab.com:project_id': '4242' }, StringLike: GOOD_TRUST.StringLike }, flags: ['trust.no-aud'] },
  { name: 'path-based sub on gitlab.com without project_id/namespace_id pins', condition: { StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com' }, StringLike: GOOD_TRUST.StringLike }, flags: ['trust.no-id-pin'] },
  { name: 'Principal "*"', principal: '*', condition: GOOD_TRUST, flags: ['trust.principal-any'] },
];

const permRows: { name: string; statements: object[]; flags: FindingId[] }[] = [
  { name: 'seed list on the repository ARN + GetAuthorizationToken on *', statements: GOOD_PERMS, flags: [] },
  { name: 'seed list with the optional CreateRepository', statements: [LOGIN, { Effect: 'Allow', Action: [...SEED, 'ecr:CreateRepository'], Resource: REPO }], flags: [] },
  { name: 'ecr:*', statements: [LOGIN, { Effect: 'Allow', Action: 'ecr:*', Resource: REPO }], flags: ['permissions.wildcard-action'] },
  { name: 'Action "*"', statements: [{ Effect: 'Allow', Action: '*', Resource: '*' }], flags: ['permissions.wildcard-action', 'permissions.resource-star'] },
  { name: 'actions beyond the seed list', statements: [...GOOD_PERMS, { Effect: 'Allow', Action: ['ecr:DeleteRepository', 'ecr:BatchDeleteImage'], Resource: REPO }], flags: ['permissions.extra-actions'] },
  { name: 'push actions on Resource "*"', statements: [LOGIN, { Effect: 'Allow', Action: SEED, Resource: '*' }], flags: ['permissions.resource-star'] },
  { name: 'NotAction allow', statements: [{ Effect: 'Allow', NotAction: 'iam:*', Resource: REPO }], flags: ['permissions.not-elements'] },
];

describe('security review: trust policies', () => {
  for (const row of trustRows) {
    test(row.name, () => {
      const findings = reviewTrust(trustDoc(row.condition, row.federated, row.principal));
      assert.deepEqual([...new Set(findings.map((f) => f.id))].sort(), [...row.flags].sort(), JSON.stringify(findings, null, 2));
      for (const f of findings) assert.ok(f.fix.length > 0 && f.where.startsWith('trust statement 0'));
    });
  }
});

describe('security review: permissions policies', () => {
  for (const row of permRows) {
    test(row.name, () => {
      const findings = reviewPermissions([permsDoc(row.statements)], REPO);
      assert.deepEqual([...new Set(findings.map((f) => f.id))].sort(), [...row.flags].sort(), JSON.stringify(findings, null, 2));
    });
  }

  test('GetAuthorizationToken on "*" alone is correct and not flagged', () => {
    assert.deepEqual(reviewPermissions([permsDoc([LOGIN])], REPO), []);
  });

  test('the resource-star fix names the repository ARN', () => {
    const [f] = reviewPermissions([permsDoc([{ Effect: 'Allow', Action: SEED, Resource: '*' }])], REPO);
    assert.match(f!.fix, new RegExp(`"Resource": "${REPO}"`));
  });
});

test('review checks: warn with evidence and fix, pass when clean', () => {
  const weak = reviewCheck('review-trust', reviewTrust(trustDoc(undefined)), 'trust');
  assert.equal(weak.status, 'warn');
  assert.match(weak.evidence.join('\n'), /any project on gitlab\.com can assume the role/);
  assert.match(weak.fix!, /StringLike/);
  assert.equal(reviewCheck('review-permissions', reviewPermissions([permsDoc(GOOD_PERMS)], REPO), 'p').status, 'pass');
});
