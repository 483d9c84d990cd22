// IAM of the sandbox through the real AWS SDK v3 IAMClient: OIDC providers, roles, inline and
// managed policies, the policy simulator, authorization, and IAM's error codes and statuses.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as iam from '@aws-sdk/client-iam';
import { AssumeRoleWithWebIdentityCommand } from '@aws-sdk/client-sts';
import { ACCOUNT, PROVIDER_ARN, ROLE_ARN, credsOf, rejectsWith, startFixture, trustPolicy, type Fixture } from './support/sts-iam-fixture.ts';

let f: Fixture;
let client: iam.IAMClient;
before(async () => {
  f = await startFixture();
  client = f.iam();
});
after(() => f.close());

const GITHUB = 'https://token.actions.githubusercontent.com';
const GITHUB_ARN = `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`;
const REPO_ARN = `arn:aws:ecr:ap-south-1:${ACCOUNT}:repository/order-microservice`;
const identity = (statement: Record<string, unknown>): string =>
  JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', ...statement }] });
const webTrust = (provider = PROVIDER_ARN): string =>
  trustPolicy({ Principal: { Federated: provider }, Action: 'sts:AssumeRoleWithWebIdentity' });

describe('OpenID Connect providers', () => {
  test('create, read, list, change client IDs, delete', async () => {
    const created = await client.send(new iam.CreateOpenIDConnectProviderCommand({
      Url: GITHUB, ClientIDList: ['sts.amazonaws.com'], ThumbprintList: ['6938fd4d98bab03faadb97b34396831e3780aea1'],
    }));
    assert.equal(created.OpenIDConnectProviderArn, GITHUB_ARN);
    await rejectsWith(client.send(new iam.CreateOpenIDConnectProviderCommand({ Url: GITHUB, ClientIDList: ['x'] })),
      'EntityAlreadyExists', 409, `Provider with url ${GITHUB} already exists.`);

    const got = await client.send(new iam.GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: GITHUB_ARN }));
    assert.equal(got.Url, 'token.actions.githubusercontent.com');
    assert.deepEqual(got.ClientIDList, ['sts.amazonaws.com']);
    assert.deepEqual(got.ThumbprintList, ['6938fd4d98bab03faadb97b34396831e3780aea1']);
    assert.ok(got.CreateDate instanceof Date);

    const list = await client.send(new iam.ListOpenIDConnectProvidersCommand({}));
    assert.deepEqual(list.OpenIDConnectProviderList?.map((p) => p.Arn).sort(), [PROVIDER_ARN, GITHUB_ARN].sort());

    await client.send(new iam.AddClientIDToOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: GITHUB_ARN, ClientID: 'extra' }));
    await client.send(new iam.AddClientIDToOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: GITHUB_ARN, ClientID: 'extra' }));
    const added = await client.send(new iam.GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: GITHUB_ARN }));
    assert.deepEqual(added.ClientIDList, ['sts.amazonaws.com', 'extra']);
    for (let i = 0; i < 2; i++) {
      await client.send(new iam.RemoveClientIDFromOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: GITHUB_ARN, ClientID: 'extra' }));
    }
    const removed = await client.send(new iam.GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: GITHUB_ARN }));
    assert.deepEqual(removed.ClientIDList, ['sts.amazonaws.com']);

    await client.send(new iam.DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: GITHUB_ARN }));
    await rejectsWith(client.send(new iam.GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: GITHUB_ARN })),
      'NoSuchEntity', 404, `OpenIDConnect Provider not found for arn ${GITHUB_ARN}`);
    await rejectsWith(client.send(new iam.DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: GITHUB_ARN })),
      'NoSuchEntity', 404);
  });

  test('refuses a URL that is not https', async () => {
    await rejectsWith(client.send(new iam.CreateOpenIDConnectProviderCommand({ Url: 'http://gitlab.example.com', ClientIDList: ['a'] })),
      'InvalidInput', 400);
  });
});

describe('roles and inline policies', () => {
  test('role lifecycle with validation, conflicts and URL-encoded documents', async () => {
    const trust = webTrust();
    const created = await client.send(new iam.CreateRoleCommand({
      RoleName: 'app-deployer', Path: '/ci/', AssumeRolePolicyDocument: trust, MaxSessionDuration: 7200, Description: 'CI',
    }));
    assert.equal(created.Role?.Arn, `arn:aws:iam::${ACCOUNT}:role/ci/app-deployer`);
    assert.match(created.Role?.RoleId ?? '', /^AROA[A-Z2-7]{17}$/);
    await rejectsWith(client.send(new iam.CreateRoleCommand({ RoleName: 'APP-deployer', AssumeRolePolicyDocument: trust })),
      'EntityAlreadyExists', 409, 'Role with name APP-deployer already exists.');

    const got = await client.send(new iam.GetRoleCommand({ RoleName: 'app-deployer' }));
    assert.equal(decodeURIComponent(got.Role!.AssumeRolePolicyDocument!), trust);
    assert.deepEqual([got.Role?.MaxSessionDuration, got.Role?.Description, got.Role?.Path], [7200, 'CI', '/ci/']);

    await client.send(new iam.UpdateRoleCommand({ RoleName: 'app-deployer', MaxSessionDuration: 43200 }));
    const other = trustPolicy({ Principal: { AWS: ROLE_ARN }, Action: 'sts:AssumeRole' });
    await client.send(new iam.UpdateAssumeRolePolicyCommand({ RoleName: 'app-deployer', PolicyDocument: other }));
    const updated = await client.send(new iam.GetRoleCommand({ RoleName: 'app-deployer' }));
    assert.equal(updated.Role?.MaxSessionDuration, 43200);
    assert.equal(decodeURIComponent(updated.Role!.AssumeRolePolicyDocument!), other);

    const roles = await client.send(new iam.ListRolesCommand({}));
    assert.deepEqual(roles.Roles?.map((r) => r.RoleName), ['app-deployer', 'gitlab-runner-ecr-role']);
    const paged = await client.send(new iam.ListRolesCommand({ MaxItems: 1 }));
    assert.equal(paged.IsTruncated, true);
    const next = await client.send(new iam.ListRolesCommand({ Marker: paged.Marker }));
    assert.deepEqual(next.Roles?.map((r) => r.RoleName), ['gitlab-runner-ecr-role']);

    const doc = identity({ Action: 'ecr:DescribeRepositories', Resource: '*' });
    await client.send(new iam.PutRolePolicyCommand({ RoleName: 'app-deployer', PolicyName: 'read', PolicyDocument: doc }));
    const inline = await client.send(new iam.GetRolePolicyCommand({ RoleName: 'app-deployer', PolicyName: 'read' }));
    assert.equal(decodeURIComponent(inline.PolicyDocument!), doc);
    const names = await client.send(new iam.ListRolePoliciesCommand({ RoleName: 'app-deployer' }));
    assert.deepEqual(names.PolicyNames, ['read']);

    await rejectsWith(client.send(new iam.DeleteRoleCommand({ RoleName: 'app-deployer' })), 'DeleteConflict', 409,
      'Cannot delete entity, must delete policies first.');
    await client.send(new iam.DeleteRolePolicyCommand({ RoleName: 'app-deployer', PolicyName: 'read' }));
    await rejectsWith(client.send(new iam.GetRolePolicyCommand({ RoleName: 'app-deployer', PolicyName: 'read' })),
      'NoSuchEntity', 404, 'The role policy with name read cannot be found.');
    await client.send(new iam.DeleteRoleCommand({ RoleName: 'app-deployer' }));
    await rejectsWith(client.send(new iam.GetRoleCommand({ RoleName: 'app-deployer' })), 'NoSuchEntity', 404,
      'The role with name app-deployer cannot be found.');
  });

  const badTrust: [string, string, string, number, RegExp | string][] = [
    ['malformed JSON', '{"Version": ', 'MalformedPolicyDocument', 400, 'Syntax errors in policy.'],
    ['a Resource element', trustPolicy({ Principal: { Federated: PROVIDER_ARN }, Action: 'sts:AssumeRoleWithWebIdentity', Resource: '*' }),
      'MalformedPolicyDocument', 400, 'Has prohibited field Resource'],
    ['a provider that does not exist', webTrust(GITHUB_ARN), 'MalformedPolicyDocument', 400,
      `Invalid principal in policy: "Federated":"${GITHUB_ARN}"`],
    ['a non-STS action', trustPolicy({ Principal: { Federated: PROVIDER_ARN }, Action: 's3:GetObject' }),
      'MalformedPolicyDocument', 400, 'AssumeRole policy may only specify STS AssumeRole actions.'],
    ['more than 2048 characters', trustPolicy({ Principal: { Federated: PROVIDER_ARN }, Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { StringEquals: { 'gitlab.com:sub': 'x'.repeat(2100) } } }), 'LimitExceeded', 409,
      'Cannot exceed quota for ACLSizePerRole: 2048'],
  ];
  for (const [what, doc, code, status, message] of badTrust) {
    test(`CreateRole refuses a trust policy with ${what}`, async () => {
      await rejectsWith(client.send(new iam.CreateRoleCommand({ RoleName: 'bad', AssumeRolePolicyDocument: doc })), code, status, message);
    });
  }

  test('CreateRole validates names and MaxSessionDuration like IAM', async () => {
    await rejectsWith(client.send(new iam.CreateRoleCommand({ RoleName: 'bad name', AssumeRolePolicyDocument: webTrust(), MaxSessionDuration: 100 })),
      'ValidationError', 400,
      "2 validation errors detected: Value 'bad name' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+; " +
      "Value '100' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600");
  });

  test('inline identity policies may not name a principal and share a 10240-character quota', async () => {
    const withPrincipal = identity({ Principal: '*', Action: 'ecr:*', Resource: '*' });
    await rejectsWith(client.send(new iam.PutRolePolicyCommand({ RoleName: 'gitlab-runner-ecr-role', PolicyName: 'p', PolicyDocument: withPrincipal })),
      'MalformedPolicyDocument', 400, 'Has prohibited field Principal');
    const huge = identity({ Action: 'ecr:*', Resource: Array.from({ length: 200 }, (_, i) => `${REPO_ARN}-${i}`) });
    await rejectsWith(client.send(new iam.PutRolePolicyCommand({ RoleName: 'gitlab-runner-ecr-role', PolicyName: 'huge', PolicyDocument: huge })),
      'LimitExceeded', 409, 'Maximum policy size of 10240 bytes exceeded for role gitlab-runner-ecr-role');
    await rejectsWith(client.send(new iam.ListRolePoliciesCommand({ RoleName: 'missing' })), 'NoSuchEntity', 404);
  });
});

describe('managed policies', () => {
  test('create, version, attach, detach and delete', async () => {
    const v1 = identity({ Action: 'ecr:BatchGetImage', Resource: REPO_ARN });
    const created = await client.send(new iam.CreatePolicyCommand({ PolicyName: 'pull', PolicyDocument: v1, Description: 'pull images' }));
    const arn = `arn:aws:iam::${ACCOUNT}:policy/pull`;
    assert.deepEqual([created.Policy?.Arn, created.Policy?.DefaultVersionId, created.Policy?.AttachmentCount], [arn, 'v1', 0]);
    await rejectsWith(client.send(new iam.CreatePolicyCommand({ PolicyName: 'pull', PolicyDocument: v1 })), 'EntityAlreadyExists', 409,
      'A policy called pull already exists. Duplicate names are not allowed.');
    await rejectsWith(client.send(new iam.CreatePolicyCommand({ PolicyName: 'broken', PolicyDocument: identity({ Action: 'ecr:*' }) })),
      'MalformedPolicyDocument', 400, 'Policy statement must contain resources.');

    const version = await client.send(new iam.GetPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v1' }));
    assert.equal(decodeURIComponent(version.PolicyVersion!.Document!), v1);
    assert.equal(version.PolicyVersion?.IsDefaultVersion, true);
    const v2 = identity({ Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], Resource: REPO_ARN });
    const made = await client.send(new iam.CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: v2, SetAsDefault: true }));
    assert.deepEqual([made.PolicyVersion?.VersionId, made.PolicyVersion?.IsDefaultVersion], ['v2', true]);
    assert.equal((await client.send(new iam.GetPolicyCommand({ PolicyArn: arn }))).Policy?.DefaultVersionId, 'v2');
    const listed = await client.send(new iam.ListPoliciesCommand({ Scope: 'Local' }));
    assert.deepEqual(listed.Policies?.map((p) => p.Arn), [arn]);

    await client.send(new iam.AttachRolePolicyCommand({ RoleName: 'gitlab-runner-ecr-role', PolicyArn: arn }));
    const attached = await client.send(new iam.ListAttachedRolePoliciesCommand({ RoleName: 'gitlab-runner-ecr-role' }));
    assert.deepEqual(attached.AttachedPolicies, [{ PolicyName: 'pull', PolicyArn: arn }]);
    assert.equal((await client.send(new iam.GetPolicyCommand({ PolicyArn: arn }))).Policy?.AttachmentCount, 1);
    await rejectsWith(client.send(new iam.DeletePolicyCommand({ PolicyArn: arn })), 'DeleteConflict', 409,
      'Cannot delete a policy attached to entities.');
    await rejectsWith(client.send(new iam.AttachRolePolicyCommand({ RoleName: 'gitlab-runner-ecr-role', PolicyArn: `${arn}-nope` })),
      'NoSuchEntity', 404, `Policy ${arn}-nope does not exist or is not attachable.`);

    await client.send(new iam.DetachRolePolicyCommand({ RoleName: 'gitlab-runner-ecr-role', PolicyArn: arn }));
    await rejectsWith(client.send(new iam.DetachRolePolicyCommand({ RoleName: 'gitlab-runner-ecr-role', PolicyArn: arn })),
      'NoSuchEntity', 404, `Policy ${arn} was not found.`);
    await rejectsWith(client.send(new iam.DeletePolicyCommand({ PolicyArn: arn })), 'DeleteConflict', 409, /more than one version/);
    await client.send(new iam.DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: 'v1' }));
    await client.send(new iam.DeletePolicyCommand({ PolicyArn: arn }));
    await rejectsWith(client.send(new iam.GetPolicyCommand({ PolicyArn: arn })), 'NoSuchEntity', 404, `Policy ${arn} was not found.`);
  });

  test('a managed policy has at most five versions', async () => {
    const doc = identity({ Action: 'ecr:BatchGetImage', Resource: REPO_ARN });
    const { Policy } = await client.send(new iam.CreatePolicyCommand({ PolicyName: 'many', PolicyDocument: doc }));
    for (let i = 0; i < 4; i++) await client.send(new iam.CreatePolicyVersionCommand({ PolicyArn: Policy!.Arn, PolicyDocument: doc }));
    await rejectsWith(client.send(new iam.CreatePolicyVersionCommand({ PolicyArn: Policy!.Arn, PolicyDocument: doc })),
      'LimitExceeded', 409, /up to 5 versions/);
  });
});

describe('SimulatePrincipalPolicy', () => {
  test('evaluates the seed role the way the permissions policy reads', async () => {
    const out = await client.send(new iam.SimulatePrincipalPolicyCommand({
      PolicySourceArn: ROLE_ARN,
      ActionNames: ['ecr:PutImage', 'ecr:DeleteRepository'],
      ResourceArns: [REPO_ARN],
    }));
    const decisions = out.EvaluationResults?.map((r) => [r.EvalActionName, r.EvalResourceName, r.EvalDecision]);
    assert.deepEqual(decisions, [['ecr:PutImage', REPO_ARN, 'allowed'], ['ecr:DeleteRepository', REPO_ARN, 'implicitDeny']]);
    assert.deepEqual(out.EvaluationResults?.[0]?.MatchedStatements?.map((s) => [s.SourcePolicyId, s.SourcePolicyType]), [['ecr-push', 'role']]);

    const login = await client.send(new iam.SimulatePrincipalPolicyCommand({ PolicySourceArn: ROLE_ARN, ActionNames: ['ecr:GetAuthorizationToken'] }));
    assert.deepEqual(login.EvaluationResults?.map((r) => [r.EvalResourceName, r.EvalDecision]), [['*', 'allowed']]);
  });

  test('an explicit deny wins', async () => {
    await client.send(new iam.PutRolePolicyCommand({
      RoleName: 'gitlab-runner-ecr-role', PolicyName: 'no-put',
      PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'ecr:PutImage', Resource: '*' }] }),
    }));
    const out = await client.send(new iam.SimulatePrincipalPolicyCommand({
      PolicySourceArn: ROLE_ARN, ActionNames: ['ecr:PutImage'], ResourceArns: [REPO_ARN],
    }));
    assert.equal(out.EvaluationResults?.[0]?.EvalDecision, 'explicitDeny');
    assert.deepEqual(out.EvaluationResults?.[0]?.MatchedStatements?.map((s) => s.SourcePolicyId), ['no-put']);
    await client.send(new iam.DeleteRolePolicyCommand({ RoleName: 'gitlab-runner-ecr-role', PolicyName: 'no-put' }));
  });

  test('an unknown role is NoSuchEntity', async () => {
    await rejectsWith(client.send(new iam.SimulatePrincipalPolicyCommand({
      PolicySourceArn: `arn:aws:iam::${ACCOUNT}:role/ghost`, ActionNames: ['ecr:PutImage'],
    })), 'NoSuchEntity', 404);
  });
});

test('a role session is authorized by its own policies: the CI role may not read IAM', async () => {
  const token = await f.mint();
  const out = await f.sts().send(new AssumeRoleWithWebIdentityCommand({ RoleArn: ROLE_ARN, RoleSessionName: 'ci', WebIdentityToken: token }));
  await rejectsWith(f.iam(credsOf(out.Credentials)).send(new iam.GetRoleCommand({ RoleName: 'gitlab-runner-ecr-role' })),
    'AccessDenied', 403,
    `User: arn:aws:sts::${ACCOUNT}:assumed-role/gitlab-runner-ecr-role/ci is not authorized to perform: iam:GetRole ` +
    `on resource: ${ROLE_ARN} because no identity-based policy allows the iam:GetRole action`);
});
