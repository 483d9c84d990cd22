// The real AWS CLI v2 (Debian package awscli) against the sandbox's STS and IAM: the seed's
// own `aws sts assume-role-with-web-identity`, then `get-caller-identity` and `iam get-role`
// with the credentials it returned. Clean environment: nothing from the host's AWS_* or ~/.aws.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { awsCliV2, cleanEnv, requireComponent, run } from './support/components.ts';
import { ACCOUNT, REGION, ROLE_ARN, startFixture, type Creds, type Fixture } from './support/sts-iam-fixture.ts';

let f: Fixture;
let skip: string | undefined;
before(async () => {
  skip = await requireComponent('awscli');
  f = await startFixture();
});
after(() => f.close());

function aws(args: string[], creds?: Creds) {
  const env = cleanEnv({
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    ...(creds ? { AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey } : {}),
    ...(creds?.sessionToken ? { AWS_SESSION_TOKEN: creds.sessionToken } : {}),
  }, { home: 'fresh' });
  return run(awsCliV2(), [...args, '--endpoint-url', f.url, '--output', 'json'], { env, timeoutMs: 60_000 });
}

async function awsJson<T>(args: string[], creds?: Creds): Promise<T> {
  const r = await aws(args, creds);
  assert.equal(r.code, 0, `aws ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

interface AssumeOut {
  Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration: string };
  AssumedRoleUser: { Arn: string };
  Provider: string;
  Audience: string;
}

describe('AWS CLI v2', () => {
  test('the seed job: assume-role-with-web-identity, get-caller-identity, iam get-role', async (t) => {
    if (skip) return t.skip(skip);
    const token = await f.mint({ projectPath: 'mygroup/myrepo', ref: 'master' });
    const out = await awsJson<AssumeOut>(['sts', 'assume-role-with-web-identity', '--role-arn', ROLE_ARN,
      '--role-session-name', 'gitlab-1234', '--web-identity-token', token, '--duration-seconds', '3600']);
    const sessionArn = `arn:aws:sts::${ACCOUNT}:assumed-role/gitlab-runner-ecr-role/gitlab-1234`;
    assert.equal(out.AssumedRoleUser.Arn, sessionArn);
    assert.match(out.Credentials.AccessKeyId, /^ASIA/);
    assert.ok(Date.parse(out.Credentials.Expiration) > Date.now());
    const creds = {
      accessKeyId: out.Credentials.AccessKeyId,
      secretAccessKey: out.Credentials.SecretAccessKey,
      sessionToken: out.Credentials.SessionToken,
    };
    const me = await awsJson<{ Arn: string; Account: string }>(['sts', 'get-caller-identity'], creds);
    assert.deepEqual([me.Arn, me.Account], [sessionArn, ACCOUNT]);

    // The CLI URL-decodes and parses the trust policy IAM returns URL-encoded.
    const role = await awsJson<{ Role: { RoleName: string; AssumeRolePolicyDocument: { Statement: unknown[] } } }>(
      ['iam', 'get-role', '--role-name', 'gitlab-runner-ecr-role'], f.root);
    assert.equal(role.Role.RoleName, 'gitlab-runner-ecr-role');
    assert.equal(role.Role.AssumeRolePolicyDocument.Statement.length, 1);
  });

  test('errors reach the CLI with their AWS codes', async (t) => {
    if (skip) return t.skip(skip);
    const wrongAud = await f.mint({ aud: 'https://gitlab.com' });
    const r1 = await aws(['sts', 'assume-role-with-web-identity', '--role-arn', ROLE_ARN,
      '--role-session-name', 'gitlab-1', '--web-identity-token', wrongAud]);
    assert.notEqual(r1.code, 0);
    assert.match(r1.stderr, /\(InvalidIdentityToken\) when calling the AssumeRoleWithWebIdentity operation: Incorrect token audience/);

    const tag = await f.mint({ refType: 'tag', ref: 'v1.0.0' });
    const r2 = await aws(['sts', 'assume-role-with-web-identity', '--role-arn', ROLE_ARN,
      '--role-session-name', 'gitlab-1', '--web-identity-token', tag]);
    assert.match(r2.stderr, /\(AccessDenied\) when calling the AssumeRoleWithWebIdentity operation: Not authorized to perform sts:AssumeRoleWithWebIdentity/);

    const r3 = await aws(['sts', 'get-caller-identity'], { ...f.root, secretAccessKey: 'x'.repeat(40) });
    assert.match(r3.stderr, /\(SignatureDoesNotMatch\) when calling the GetCallerIdentity operation/);

    const r4 = await aws(['iam', 'get-role', '--role-name', 'nope'], f.root);
    assert.match(r4.stderr, /\(NoSuchEntity\) when calling the GetRole operation: The role with name nope cannot be found\./);
  });
});
