// Policy documents (grammar, MalformedPolicyDocument) and evaluation logic with explanations.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HoistError, isHoistError } from '../src/errors.ts';
import { evaluate, explainDenial, parsePolicy, type PolicyKind, type RequestContext } from '../src/policy/index.ts';

const ACCOUNT = '831955480324';
const PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/gitlab.com`;
const REPO = `arn:aws:ecr:eu-west-1:${ACCOUNT}:repository/mygroup/myrepo`;

const doc = (policy: unknown, kind: PolicyKind = 'any', source = 'policy') => parsePolicy(JSON.stringify(policy), source, kind);

function malformed(policy: unknown, kind: PolicyKind = 'any'): HoistError {
  try {
    parsePolicy(typeof policy === 'string' ? policy : JSON.stringify(policy), 'test policy', kind);
  } catch (err) {
    assert.ok(isHoistError(err, 'policy.malformed'), String(err));
    return err;
  }
  assert.fail('expected policy.malformed');
}

describe('parsePolicy: accepted grammar', () => {
  test('Statement as object, strings as single values, Version 2012-10-17', () => {
    const d = doc({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 'ecr:*', Resource: '*' } });
    assert.equal(d.version, '2012-10-17');
    assert.equal(d.statements.length, 1);
    assert.deepEqual(d.statements[0]!.action, ['ecr:*']);
    assert.deepEqual(d.statements[0]!.resource, ['*']);
  });
  test('Version is optional and 2008-10-17 is accepted', () => {
    assert.equal(doc({ Statement: [{ Effect: 'Deny', NotAction: 's3:*', NotResource: ['arn:aws:s3:::b'] }] }).version, '2008-10-17');
    assert.equal(doc({ Version: '2008-10-17', Id: 'x', Statement: [] }).id, 'x');
  });
  test('Principal forms, NotPrincipal, Sid and conditions with numbers and booleans', () => {
    const d = doc({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'Web', Effect: 'Allow', Principal: { Federated: PROVIDER }, Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: { Bool: { 'aws:SecureTransport': true }, NumericLessThan: { 'k': [1, 2] } } },
        { Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole' },
        { Effect: 'Deny', NotPrincipal: { AWS: [ACCOUNT], Service: 'ecr.amazonaws.com' }, Action: 'sts:*' },
      ],
    }, 'trust');
    const [a, b, c] = d.statements;
    assert.equal(a!.sid, 'Web');
    assert.deepEqual(a!.principal, { Federated: [PROVIDER] });
    assert.deepEqual(a!.conditions, [
      { operator: 'Bool', key: 'aws:SecureTransport', values: ['true'] },
      { operator: 'NumericLessThan', key: 'k', values: ['1', '2'] },
    ]);
    assert.equal(b!.principal, '*');
    assert.deepEqual(c!.notPrincipal, { AWS: [ACCOUNT], Service: ['ecr.amazonaws.com'] });
  });
});

describe('parsePolicy: MalformedPolicyDocument', () => {
  test('invalid JSON', () => {
    const e = malformed('{"Statement": [');
    assert.match(e.problems[0]!.message, /not valid JSON/);
    assert.equal(e.context['awsMessage'], 'Syntax errors in policy.');
  });
  test('problems name the statement index, Sid and field, all at once', () => {
    const e = malformed({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        { Sid: 'Push', Effect: 'allow', Action: 'PutImage', Resource: 'repo' },
      ],
    });
    assert.deepEqual(e.problems.map((p) => p.source), [
      'test policy Statement[1] (Sid "Push").Effect',
      'test policy Statement[1] (Sid "Push").Action',
      'test policy Statement[1] (Sid "Push").Resource',
    ]);
    assert.equal(e.context['awsMessage'], 'Invalid effect: allow');
    assert.equal(e.context['awsCode'], 'MalformedPolicyDocument');
    assert.match(e.message, /3 problems/);
  });
  test('structural errors', () => {
    assert.equal(malformed({ Version: '2012-10-17' }).context['awsMessage'], 'Missing required field Statement');
    assert.equal(malformed({ Version: '2012-10-18', Statement: [] }).context['awsMessage'], 'The policy failed legacy parsing');
    assert.equal(malformed({ Statement: [{ Effect: 'Allow', Resource: '*' }] }).context['awsMessage'],
      'Policy statement must contain actions.');
    assert.match(malformed({ Statement: [{ Effect: 'Allow', Action: '*', NotAction: 'x:y' }] }).problems[0]!.message, /both Action and NotAction/);
    assert.match(malformed({ Statement: [{ Effect: 'Allow', Action: '*', Extra: 1 }] }).problems[0]!.message, /unknown statement element "Extra"/);
    assert.match(malformed({ Statements: [] }).problems[0]!.message, /unknown policy element/);
    assert.match(malformed([]).problems[0]!.message, /must be a JSON object/);
    assert.match(malformed({ Statement: ['x'] }).problems[0]!.message, /statement must be a JSON object/);
    assert.match(malformed({ Statement: [{ Effect: 'Allow', Action: [] }] }).problems[0]!.message, /non-empty array/);
  });
  test('duplicate Sids', () => {
    const s = { Sid: 'A', Effect: 'Allow', Action: '*' };
    assert.equal(malformed({ Statement: [s, s] }).context['awsMessage'], 'Statement IDs (SID) in a single policy must be unique.');
  });
  test('conditions: unknown operators, empty blocks, bad values', () => {
    const bad = (Condition: unknown) => malformed({ Statement: [{ Effect: 'Allow', Action: '*', Condition }] });
    assert.equal(bad({ StringEqual: { k: 'v' } }).context['awsMessage'], 'Invalid Condition type : StringEqual');
    assert.equal(bad({ NullIfExists: { k: 'true' } }).context['awsMessage'], 'Invalid Condition type : NullIfExists');
    assert.match(bad({ StringEquals: {} }).problems[0]!.message, /non-empty object/);
    assert.match(bad({ StringEquals: { k: [] } }).problems[0]!.message, /non-empty array/);
    assert.match(bad({ StringEquals: { k: { v: 1 } } }).problems[0]!.source, /Condition\.StringEquals\.k$/);
    assert.match(bad('x').problems[0]!.message, /object of condition operators/);
  });
  test('trust policies need Principal and cannot have Resource', () => {
    const e = malformed({ Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRoleWithWebIdentity', Resource: '*' }] }, 'trust');
    assert.deepEqual(e.problems.map((p) => p.message), [
      'a role trust policy cannot have Resource',
      'a trust policy statement needs Principal',
    ]);
    assert.equal(e.context['awsMessage'], 'Has prohibited field Resource');
  });
  test('identity policies need Resource and cannot have Principal', () => {
    assert.equal(malformed({ Statement: [{ Effect: 'Allow', Action: 'ecr:*' }] }, 'identity').context['awsMessage'],
      'Policy statement must contain resources.');
    assert.equal(malformed({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'ecr:*', Resource: '*' }] }, 'identity')
      .context['awsMessage'], 'Has prohibited field Principal');
  });
  test('principals', () => {
    const bad = (Principal: unknown) => malformed({ Statement: [{ Effect: 'Allow', Principal, Action: '*' }] });
    assert.equal(bad('arn:aws:iam::1:root').context['awsMessage'], 'Invalid principal in policy');
    assert.equal(bad({}).context['awsMessage'], 'Invalid principal in policy');
    assert.match(bad({ Federal: 'x' }).problems[0]!.message, /unknown principal type "Federal"/);
    assert.match(bad({ AWS: 1 }).problems[0]!.source, /Principal\.AWS$/);
  });
  test('resources must be ARNs or *', () => {
    assert.equal(malformed({ Statement: [{ Effect: 'Allow', Action: '*', Resource: 'myrepo' }] }).context['awsMessage'],
      'Resource myrepo must be in ARN format or "*".');
  });
});

const ecrPolicy = doc({
  Version: '2012-10-17',
  Statement: [
    { Sid: 'Login', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
    { Sid: 'Push', Effect: 'Allow', Action: ['ecr:BatchCheckLayerAvailability', 'ecr:PutImage', 'ecr:*LayerUpload', 'ecr:UploadLayerPart'],
      Resource: `arn:aws:ecr:*:${ACCOUNT}:repository/mygroup/*` },
  ],
}, 'identity', 'role hoist-ci policy push');

const ecr = (action: string, resource?: string): RequestContext => ({ action, ...(resource ? { resource } : {}), keys: {} });

describe('evaluate: actions and resources', () => {
  test('allow when an Allow statement matches action and resource', () => {
    assert.equal(evaluate([ecrPolicy], ecr('ecr:GetAuthorizationToken', '*')).decision, 'allow');
    assert.equal(evaluate([ecrPolicy], ecr('ecr:PutImage', REPO)).decision, 'allow');
    assert.equal(evaluate([ecrPolicy], ecr('ecr:CompleteLayerUpload', REPO)).decision, 'allow', 'wildcard in the action');
    assert.equal(evaluate([ecrPolicy], ecr('ECR:putimage', REPO)).decision, 'allow', 'action names are case-insensitive');
  });
  test('implicit deny for other actions, other repositories and case-changed ARNs', () => {
    assert.equal(evaluate([ecrPolicy], ecr('ecr:DeleteRepository', REPO)).decision, 'implicit-deny');
    assert.equal(evaluate([ecrPolicy], ecr('ecr:PutImage', `arn:aws:ecr:eu-west-1:${ACCOUNT}:repository/other/app`)).decision, 'implicit-deny');
    assert.equal(evaluate([ecrPolicy], ecr('ecr:PutImage', `arn:aws:ecr:eu-west-1:${ACCOUNT}:repository/MyGroup/myrepo`)).decision,
      'implicit-deny', 'resource ARNs are case-sensitive');
    assert.equal(evaluate([], ecr('ecr:PutImage', REPO)).decision, 'implicit-deny');
  });
  test('an explicit Deny in any policy overrides every Allow', () => {
    const guard = doc({ Statement: { Sid: 'NoProd', Effect: 'Deny', Action: 'ecr:*', Resource: `arn:aws:ecr:*:*:repository/mygroup/myrepo` } },
      'identity', 'guard');
    const ev = evaluate([ecrPolicy, guard], ecr('ecr:PutImage', REPO));
    assert.equal(ev.decision, 'explicit-deny');
    assert.deepEqual(explainDenial(ev), ['guard statement 0 (Sid "NoProd") explicitly denies ecr:PutImage unconditionally']);
  });
  test('NotAction and NotResource', () => {
    const d = doc({ Statement: [
      { Effect: 'Allow', NotAction: 'iam:*', Resource: '*' },
      { Effect: 'Deny', Action: '*', NotResource: `arn:aws:ecr:*:${ACCOUNT}:repository/*` },
    ] });
    assert.equal(evaluate([d], ecr('ecr:PutImage', REPO)).decision, 'allow');
    assert.equal(evaluate([d], ecr('iam:CreateRole', REPO)).decision, 'implicit-deny');
    assert.equal(evaluate([d], ecr('s3:GetObject', 'arn:aws:s3:::bucket/key')).decision, 'explicit-deny');
  });
  test('resource absent from the request is not checked', () => {
    assert.equal(evaluate([ecrPolicy], ecr('ecr:PutImage')).decision, 'allow');
  });
  test('statement results record what matched', () => {
    const ev = evaluate([ecrPolicy], ecr('ecr:PutImage', REPO));
    assert.deepEqual(ev.statements.map((s) => [s.sid, s.actionMatched, s.resourceMatched, s.applies]), [
      ['Login', false, true, false],
      ['Push', true, true, true],
    ]);
    assert.equal(ev.statements[1]!.policy, 'role hoist-ci policy push');
    assert.deepEqual(explainDenial(ev), []);
  });
});

describe('evaluate: principals', () => {
  const trust = (principal: unknown, field = 'Principal') =>
    doc({ Statement: { Effect: 'Allow', [field]: principal, Action: ['sts:AssumeRole', 'sts:AssumeRoleWithWebIdentity'] } }, 'trust');
  const assume = (principal: RequestContext['principal']): RequestContext => ({ action: 'sts:AssumeRole', principal, keys: {} });
  const role = `arn:aws:iam::${ACCOUNT}:role/deployer`;
  test('Federated must equal the provider ARN', () => {
    assert.equal(evaluate([trust({ Federated: PROVIDER })], assume({ federated: PROVIDER })).decision, 'allow');
    assert.equal(evaluate([trust({ Federated: PROVIDER })], assume({ federated: `${PROVIDER}x` })).decision, 'implicit-deny');
    assert.equal(evaluate([trust({ Federated: PROVIDER })], assume({ aws: role })).decision, 'implicit-deny');
  });
  test('an account ID or its root ARN stands for every principal of the account', () => {
    assert.equal(evaluate([trust({ AWS: ACCOUNT })], assume({ aws: role })).decision, 'allow');
    assert.equal(evaluate([trust({ AWS: `arn:aws:iam::${ACCOUNT}:root` })], assume({ aws: role })).decision, 'allow');
    assert.equal(evaluate([trust({ AWS: 'arn:aws:iam::111111111111:root' })], assume({ aws: role })).decision, 'implicit-deny');
    assert.equal(evaluate([trust({ AWS: role })], assume({ aws: [`arn:aws:sts::${ACCOUNT}:assumed-role/deployer/s`, role] })).decision, 'allow');
  });
  test('"*" and {"AWS": "*"} match everyone; Service matches exactly', () => {
    assert.equal(evaluate([trust('*')], assume({ federated: PROVIDER })).decision, 'allow');
    assert.equal(evaluate([trust({ AWS: '*' })], assume({ federated: PROVIDER })).decision, 'allow');
    assert.equal(evaluate([trust({ Service: 'ecs-tasks.amazonaws.com' })], assume({ service: 'ecs-tasks.amazonaws.com' })).decision, 'allow');
    assert.equal(evaluate([trust({ Service: 'ecs-tasks.amazonaws.com' })], assume({ service: 'ec2.amazonaws.com' })).decision, 'implicit-deny');
  });
  test('NotPrincipal applies to everyone except those listed', () => {
    assert.equal(evaluate([trust({ Federated: PROVIDER }, 'NotPrincipal')], assume({ federated: PROVIDER })).decision, 'implicit-deny');
    assert.equal(evaluate([trust({ Federated: PROVIDER }, 'NotPrincipal')], assume({ aws: role })).decision, 'allow');
  });
  test('a statement without Principal grants nothing when a principal is checked', () => {
    const ev = evaluate([doc({ Statement: { Effect: 'Allow', Action: '*' } })], assume({ aws: role }));
    assert.equal(ev.decision, 'implicit-deny');
    assert.match(explainDenial(ev)[0]!, /no Principal/);
  });
});

describe('explainDenial', () => {
  const trust = doc({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'Humans', Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'sts:AssumeRole' },
      { Sid: 'GitLab', Effect: 'Allow', Principal: { Federated: PROVIDER }, Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com' },
          StringLike: { 'gitlab.com:sub': 'project_path:mygroup/myrepo:ref_type:branch:ref:*' },
        } },
    ],
  }, 'trust', 'role hoist-ci trust policy');
  const web = (sub: string, aud = 'sts.amazonaws.com'): RequestContext => ({
    action: 'sts:AssumeRoleWithWebIdentity', principal: { federated: PROVIDER }, keys: { 'gitlab.com:sub': sub, 'gitlab.com:aud': aud },
  });
  test('names the failed condition of the best-matching Allow statement only', () => {
    const ev = evaluate([trust], web('project_path:other/repo:ref_type:branch:ref:main'));
    assert.equal(ev.decision, 'implicit-deny');
    assert.deepEqual(explainDenial(ev), [
      'role hoist-ci trust policy statement 1 (Sid "GitLab"): gitlab.com:sub is "project_path:other/repo:ref_type:branch:ref:main", '
        + 'which does not match "project_path:mygroup/myrepo:ref_type:branch:ref:*" (StringLike)',
    ]);
  });
  test('lists every failed condition', () => {
    const ev = evaluate([trust], web('project_path:mygroup/myrepo:ref_type:tag:ref:v1', 'https://gitlab.com'));
    const lines = explainDenial(ev);
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /gitlab.com:aud is "https:\/\/gitlab.com", which does not equal "sts.amazonaws.com" \(StringEquals\)/);
    assert.match(lines[1]!, /ref_type:tag/);
  });
  test('explains action and principal mismatches', () => {
    const ev = evaluate([trust], { ...web('project_path:mygroup/myrepo:ref_type:branch:ref:main'), principal: { federated: `${PROVIDER}.example` } });
    assert.match(explainDenial(ev).join('\n'), /Principal .* does not include the caller \(federated arn:aws:iam::831955480324:oidc-provider\/gitlab.com.example\)/);
    const wrong = evaluate([doc({ Statement: { Effect: 'Allow', Principal: { Federated: PROVIDER }, Action: 'sts:AssumeRole' } }, 'trust')],
      web('x'));
    assert.match(explainDenial(wrong)[0]!, /sts:AssumeRole is a different action/);
  });
  test('says so when nothing could allow the action', () => {
    const ev = evaluate([doc({ Statement: { Effect: 'Deny', Action: 'ecr:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } } })],
      ecr('ecr:PutImage', REPO));
    assert.equal(ev.decision, 'implicit-deny');
    assert.deepEqual(explainDenial(ev), ['no Allow statement covers ecr:PutImage']);
  });
  test('explicit denials quote the conditions that made the Deny apply', () => {
    const d = doc({ Statement: [
      { Effect: 'Allow', Action: 'ecr:*', Resource: '*' },
      { Sid: 'TlsOnly', Effect: 'Deny', Action: 'ecr:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
    ] }, 'any', 'repo policy');
    const ev = evaluate([d], { action: 'ecr:PutImage', resource: REPO, keys: { 'aws:SecureTransport': 'false' } });
    assert.equal(ev.decision, 'explicit-deny');
    assert.deepEqual(explainDenial(ev), [
      'repo policy statement 1 (Sid "TlsOnly") explicitly denies ecr:PutImage: aws:SecureTransport is "false", which is "false" (Bool)',
    ]);
  });
});
