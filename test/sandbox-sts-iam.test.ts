// STS and SigV4 of the sandbox, through the real AWS SDK v3 clients: every response, success
// or error, must be parsed by the SDK into the shape and error code AWS gives.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DescribeRepositoriesCommand } from '@aws-sdk/client-ecr';
import { CreateRoleCommand, ListRolesCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { generateSigningKey } from '../src/sandbox/oidc.ts';
import { canonicalRequest, computeSignature, parseQuery, sha256Hex } from '../src/sandbox/sigv4-canonical.ts';
import type { TokenRequest } from '../src/sandbox/oidc.ts';
import {
  ACCOUNT, PROVIDER_ARN, REGION, ROLE_ARN, credsOf, rejectsWith, startFixture, trustPolicy, type Fixture,
} from './support/sts-iam-fixture.ts';

let f: Fixture;
before(async () => void (f = await startFixture()));
after(() => f.close());

const DENIED = 'Not authorized to perform sts:AssumeRoleWithWebIdentity';

function assumeWeb(token: string, extra: { RoleArn?: string; RoleSessionName?: string; DurationSeconds?: number } = {}) {
  return f.sts().send(new AssumeRoleWithWebIdentityCommand({
    RoleArn: ROLE_ARN, RoleSessionName: 'gitlab-4242', WebIdentityToken: token, ...extra,
  }));
}

describe('AssumeRoleWithWebIdentity', () => {
  test('a master-branch token of the trusted project gets credentials that work', async () => {
    const token = await f.mint({ projectPath: 'mygroup/myrepo', ref: 'master' });
    const out = await assumeWeb(token);
    const creds = credsOf(out.Credentials);
    assert.match(creds.accessKeyId, /^ASIA[A-Z2-7]{16}$/);
    const expiresIn = out.Credentials!.Expiration!.getTime() - Date.now();
    assert.ok(expiresIn > 3590_000 && expiresIn <= 3600_000, `expires in ${expiresIn} ms`);
    const sessionArn = `arn:aws:sts::${ACCOUNT}:assumed-role/gitlab-runner-ecr-role/gitlab-4242`;
    assert.equal(out.AssumedRoleUser?.Arn, sessionArn);
    const roleId = f.world.state.roles['gitlab-runner-ecr-role']!.roleId;
    assert.equal(out.AssumedRoleUser?.AssumedRoleId, `${roleId}:gitlab-4242`);
    assert.equal(out.SubjectFromWebIdentityToken, 'project_path:mygroup/myrepo:ref_type:branch:ref:master');
    assert.equal(out.Provider, PROVIDER_ARN);
    assert.equal(out.Audience, 'sts.amazonaws.com');
    assert.ok(f.world.state.sessions[creds.accessKeyId], 'the session is stored in the world');

    const me = await f.sts(creds).send(new GetCallerIdentityCommand({}));
    assert.deepEqual([me.Arn, me.Account, me.UserId], [sessionArn, ACCOUNT, `${roleId}:gitlab-4242`]);
  });

  test('DurationSeconds up to the role maximum sets the expiry', async () => {
    const out = await assumeWeb(await f.mint(), { DurationSeconds: 900 });
    const expiresIn = out.Credentials!.Expiration!.getTime() - Date.now();
    assert.ok(expiresIn > 890_000 && expiresIn <= 900_000);
  });

  const refused: [string, TokenRequest, string, number, RegExp | string][] = [
    ['another project', { projectPath: 'othergroup/other' }, 'AccessDenied', 403, DENIED],
    ['a tag pipeline against a branch-only trust policy', { refType: 'tag', ref: 'v1.2.0' }, 'AccessDenied', 403, DENIED],
    ['a token for another audience', { aud: 'https://gitlab.com' }, 'InvalidIdentityToken', 400, 'Incorrect token audience'],
    ['an expired token', { expiresIn: -60 }, 'ExpiredTokenException', 400,
      /^Token expired: current date\/time \d+ must be before the expiration date\/time \d+$/],
  ];
  for (const [what, req, code, status, message] of refused) {
    test(`refuses ${what}`, async () => rejectsWith(assumeWeb(await f.mint(req)), code, status, message));
  }

  test('refuses a token signed by a key the issuer does not publish', async () => {
    const forged = f.sign({}, generateSigningKey());
    await rejectsWith(assumeWeb(forged), 'InvalidIdentityToken', 400, /could not be validated/);
  });

  test('refuses a token whose issuer is not an IAM OIDC provider of the account', async () => {
    const token = f.sign({}, undefined, 'https://gitlab.example.com');
    await rejectsWith(assumeWeb(token), 'InvalidIdentityToken', 400,
      'No OpenIDConnect provider found in your account for https://gitlab.example.com');
  });

  test('refuses a string that is not a JWT', async () => {
    await rejectsWith(assumeWeb('not-a-jwt-at-all'), 'InvalidIdentityToken', 400, /not a valid JWT/);
  });

  test('refuses an invalid session name with the AWS validation message', async () => {
    await rejectsWith(assumeWeb(await f.mint(), { RoleSessionName: 'bad name!' }), 'ValidationError', 400,
      "1 validation error detected: Value 'bad name!' at 'roleSessionName' failed to satisfy constraint: " +
      'Member must satisfy regular expression pattern: [\\w+=,.@-]*');
    await rejectsWith(assumeWeb(await f.mint(), { RoleSessionName: 'x' }), 'ValidationError', 400,
      /Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2/);
  });

  test('never echoes a web identity token in a validation error', async () => {
    const long = `eyJ${'a'.repeat(20001)}`;
    await rejectsWith(assumeWeb(long), 'ValidationError', 400,
      "1 validation error detected: Value '*** Sensitive Data Redacted ***' at 'webIdentityToken' failed to satisfy constraint: " +
      'Member must have length less than or equal to 20000');
  });

  test('refuses a duration above the role maximum or below 900 seconds', async () => {
    await rejectsWith(assumeWeb(await f.mint(), { DurationSeconds: 7200 }), 'ValidationError', 400,
      'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
    await rejectsWith(assumeWeb(await f.mint(), { DurationSeconds: 60 }), 'ValidationError', 400,
      /at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900/);
  });

  test('refuses a role that does not exist like a role that does not trust the token', async () => {
    await rejectsWith(assumeWeb(await f.mint(), { RoleArn: `arn:aws:iam::${ACCOUNT}:role/nope` }), 'AccessDenied', 403, DENIED);
  });

  test('trust conditions see the gitlab.com claim keys IAM exposes, and only those', async () => {
    await f.iam().send(new CreateRoleCommand({
      RoleName: 'protected-only',
      AssumeRolePolicyDocument: trustPolicy({
        Principal: { Federated: PROVIDER_ARN },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { 'gitlab.com:ref_protected': 'true', 'gitlab.com:project_id': '4242' } },
      }),
    }));
    const arn = `arn:aws:iam::${ACCOUNT}:role/protected-only`;
    const ok = await f.mint({ claims: { project_id: '4242' } });
    assert.ok((await assumeWeb(ok, { RoleArn: arn })).Credentials);
    const unprotected = await f.mint({ claims: { project_id: '4242', ref_protected: 'false' } });
    await rejectsWith(assumeWeb(unprotected, { RoleArn: arn }), 'AccessDenied', 403, DENIED);

    // `ref` is a GitLab claim but not an IAM condition key: a condition on it never matches.
    await f.iam().send(new CreateRoleCommand({
      RoleName: 'by-ref-claim',
      AssumeRolePolicyDocument: trustPolicy({
        Principal: { Federated: PROVIDER_ARN },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { 'gitlab.com:ref': 'master' } },
      }),
    }));
    await rejectsWith(assumeWeb(await f.mint(), { RoleArn: `arn:aws:iam::${ACCOUNT}:role/by-ref-claim` }), 'AccessDenied', 403, DENIED);
  });
});

describe('AssumeRole', () => {
  test('the root user may not assume roles', async () => {
    await rejectsWith(f.sts().send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: 'root' })),
      'AccessDenied', 403, 'Roles may not be assumed by root accounts.');
  });

  test('role chaining needs the trust policy and the caller policy, and is limited to one hour', async () => {
    const ci = credsOf((await assumeWeb(await f.mint())).Credentials);
    await f.iam().send(new CreateRoleCommand({
      RoleName: 'deployer',
      AssumeRolePolicyDocument: trustPolicy({ Principal: { AWS: ROLE_ARN }, Action: 'sts:AssumeRole' }),
    }));
    const target = `arn:aws:iam::${ACCOUNT}:role/deployer`;
    const chain = (d?: number) => f.sts(ci).send(new AssumeRoleCommand({ RoleArn: target, RoleSessionName: 'chained', DurationSeconds: d }));
    await rejectsWith(chain(), 'AccessDenied', 403,
      `User: arn:aws:sts::${ACCOUNT}:assumed-role/gitlab-runner-ecr-role/gitlab-4242 is not authorized to perform: sts:AssumeRole on resource: ${target}`);
    await f.iam().send(new PutRolePolicyCommand({
      RoleName: 'gitlab-runner-ecr-role', PolicyName: 'chain',
      PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: target }] }),
    }));
    const out = await chain();
    const me = await f.sts(credsOf(out.Credentials)).send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/deployer/chained`);
    await rejectsWith(chain(7200), 'ValidationError', 400,
      'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.');
  });
});

describe('AssumeRole by session ARN', () => {
  test('a trust policy naming the session ARN grants without an identity policy', async () => {
    const session = `arn:aws:sts::${ACCOUNT}:assumed-role/gitlab-runner-ecr-role/direct`;
    await f.iam().send(new CreateRoleCommand({
      RoleName: 'by-session', AssumeRolePolicyDocument: trustPolicy({ Principal: { AWS: session }, Action: 'sts:AssumeRole' }),
    }));
    const ci = credsOf((await assumeWeb(await f.mint(), { RoleSessionName: 'direct' })).Credentials);
    const out = await f.sts(ci).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/by-session`, RoleSessionName: 'next' }));
    assert.equal(out.AssumedRoleUser?.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/by-session/next`);
  });
});

describe('SigV4', () => {
  test('GetCallerIdentity as root', async () => {
    const me = await f.sts().send(new GetCallerIdentityCommand({}));
    assert.deepEqual([me.Arn, me.Account, me.UserId], [`arn:aws:iam::${ACCOUNT}:root`, ACCOUNT, ACCOUNT]);
  });

  test('a wrong secret is SignatureDoesNotMatch', async () => {
    await rejectsWith(f.sts({ ...f.root, secretAccessKey: 'x'.repeat(40) }).send(new GetCallerIdentityCommand({})),
      'SignatureDoesNotMatch', 403, /^The request signature we calculated does not match the signature you provided/);
  });

  test('IAM verifies signatures the same way', async () => {
    await rejectsWith(f.iam({ ...f.root, secretAccessKey: 'x'.repeat(40) }).send(new ListRolesCommand({})),
      'SignatureDoesNotMatch', 403);
  });

  test('an unknown access key is InvalidClientTokenId', async () => {
    await rejectsWith(f.sts({ accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'x' }).send(new GetCallerIdentityCommand({})),
      'InvalidClientTokenId', 403, 'The security token included in the request is invalid.');
  });

  test('temporary keys without their session token are InvalidClientTokenId', async () => {
    const { sessionToken: _dropped, ...noToken } = credsOf((await assumeWeb(await f.mint())).Credentials);
    await rejectsWith(f.sts(noToken).send(new GetCallerIdentityCommand({})), 'InvalidClientTokenId', 403);
  });

  test('an expired session is ExpiredToken (Query) and ExpiredTokenException (JSON)', async () => {
    const creds = credsOf((await assumeWeb(await f.mint(), { DurationSeconds: 900 })).Credentials);
    f.advance(901_000);
    try {
      await rejectsWith(f.sts(creds).send(new GetCallerIdentityCommand({})), 'ExpiredToken', 403,
        'The security token included in the request is expired');
      await rejectsWith(f.ecr(creds).send(new DescribeRepositoriesCommand({})), 'ExpiredTokenException', 400);
    } finally {
      f.resetClock();
    }
  });

  test('ECR words signature faults the JSON way', async () => {
    await rejectsWith(f.ecr({ accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'x' }).send(new DescribeRepositoriesCommand({})),
      'UnrecognizedClientException', 400, 'The security token included in the request is invalid.');
    await rejectsWith(f.ecr({ ...f.root, secretAccessKey: 'x'.repeat(40) }).send(new DescribeRepositoriesCommand({})),
      'InvalidSignatureException', 400);
  });

  test('a request signed more than 15 minutes off is refused', async () => {
    const skewed = f.sts(undefined, { systemClockOffset: -20 * 60 * 1000 });
    await rejectsWith(skewed.send(new GetCallerIdentityCommand({})), 'SignatureDoesNotMatch', 403,
      /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/);
  });

  test('canonical request and signature match the AWS documentation example', () => {
    // "Examples of the complete Signature Version 4 signing process": IAM ListUsers, 2015-08-30.
    const rawHeaders = ['Host', 'iam.amazonaws.com', 'Content-Type', 'application/x-www-form-urlencoded; charset=utf-8',
      'X-Amz-Date', '20150830T123600Z'];
    const canonical = canonicalRequest({ method: 'GET', rawHeaders }, '/', parseQuery('Action=ListUsers&Version=2010-05-08'),
      false, ['content-type', 'host', 'x-amz-date'], sha256Hex(''));
    assert.equal(sha256Hex(canonical), 'f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59');
    const sig = computeSignature('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      { date: '20150830', region: 'us-east-1', service: 'iam', terminator: 'aws4_request', amzDate: '20150830T123600Z' }, canonical);
    assert.equal(sig, '5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7');
  });

  test('a presigned query-string request is verified too', async () => {
    const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
    const host = new URL(f.url).host;
    const body = 'Action=GetCallerIdentity&Version=2011-06-15';
    const query: [string, string][] = [
      ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
      ['X-Amz-Credential', `${f.root.accessKeyId}/${amzDate.slice(0, 8)}/${REGION}/sts/aws4_request`],
      ['X-Amz-Date', amzDate], ['X-Amz-Expires', '60'], ['X-Amz-SignedHeaders', 'host'],
    ];
    const canonical = canonicalRequest({ method: 'POST', rawHeaders: ['Host', host] }, '/', query, true, ['host'], sha256Hex(body));
    const sig = computeSignature(f.root.secretAccessKey,
      { date: amzDate.slice(0, 8), region: REGION, service: 'sts', terminator: 'aws4_request', amzDate }, canonical);
    const post = (signature: string) => fetch(`${f.url}/?${new URLSearchParams([...query, ['X-Amz-Signature', signature]])}`, {
      method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const ok = await post(sig);
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /<Arn>arn:aws:iam::\d{12}:root<\/Arn>/);
    const bad = await post('0'.repeat(64));
    assert.equal(bad.status, 403);
    assert.match(await bad.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
  });
});
