// An in-process sandbox for the STS/IAM tests, driven through the real AWS SDK v3 clients with
// explicit configuration only: nothing from the host's AWS_* environment or ~/.aws.

import assert from 'node:assert/strict';
import { ECRClient } from '@aws-sdk/client-ecr';
import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { seedWorld, SEED } from '../../src/sandbox/defaults.ts';
import { gitlabClaims, signJwt, type TokenRequest } from '../../src/sandbox/oidc.ts';
import { startSandboxServer, type RunningSandbox } from '../../src/sandbox/server.ts';
import { World } from '../../src/sandbox/state.ts';
import type { SigningKey } from '../../src/sandbox/world.ts';
import { watchWorld } from './secret-scan.ts';

// The SDK reads AWS_* variables (profile, CA bundle, endpoints, retries) from the process.
for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) delete process.env[name];

export const REGION = SEED.region;
export const ACCOUNT = SEED.accountId;
export const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/${SEED.roleName}`;
export const PROVIDER_ARN = `arn:aws:iam::${ACCOUNT}:oidc-provider/gitlab.com`;

export interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface Fixture {
  world: World;
  sandbox: RunningSandbox;
  url: string;
  root: Creds;
  /** Moves the world's clock (not the wall clock SigV4 skew is checked against). */
  advance(ms: number): void;
  resetClock(): void;
  sts(creds?: Creds, extra?: Record<string, unknown>): STSClient;
  iam(creds?: Creds): IAMClient;
  ecr(creds?: Creds): ECRClient;
  /** An ID token minted by the sandbox's control endpoint, as a CI job would get it. */
  mint(req?: TokenRequest): Promise<string>;
  /** A token with arbitrary claims, signed by `key` (default: the sandbox issuer's key). */
  sign(req: TokenRequest, key?: SigningKey, issuer?: string): string;
  close(): Promise<void>;
}

export async function startFixture(): Promise<Fixture> {
  let offset = 0;
  const world = await World.open({ initial: () => seedWorld(), now: () => Date.now() + offset });
  const sandbox = await startSandboxServer({ world, port: 0 });
  watchWorld(world); // issue 6: its keys, session tokens and issuer keys are scanned for
  const root = { accessKeyId: world.state.rootUser.accessKeyId, secretAccessKey: world.state.rootUser.secretAccessKey };
  const base = (creds: Creds | undefined) => ({
    endpoint: sandbox.url, region: REGION, credentials: creds ?? root, maxAttempts: 1,
  });
  return {
    world,
    sandbox,
    url: sandbox.url,
    root,
    advance: (ms) => void (offset += ms),
    resetClock: () => void (offset = 0),
    sts: (creds, extra = {}) => new STSClient({ ...base(creds), ...extra }),
    iam: (creds) => new IAMClient(base(creds)),
    ecr: (creds) => new ECRClient(base(creds)),
    mint: async (req = {}) => {
      const res = await fetch(`${sandbox.url}/_sandbox/token`, { method: 'POST', body: JSON.stringify(req) });
      assert.equal(res.status, 200);
      return ((await res.json()) as { token: string }).token;
    },
    sign: (req, key = world.state.signingKeys[0]!, issuer = world.state.issuerUrl) =>
      signJwt(key, gitlabClaims(issuer, req, Math.floor(world.now() / 1000))),
    close: () => sandbox.close(),
  };
}

/**
 * Asserts that the SDK parsed an AWS error with this code and HTTP status. Query errors carry
 * the wire code in `Code` (modelled ones get an `…Exception` class `name`); JSON errors in `name`.
 */
export async function rejectsWith(p: Promise<unknown>, code: string, status: number, message?: RegExp | string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    const e = err as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const got = e.Code ?? e.name;
    assert.equal(got, code, `expected ${code}, got ${got} (${e.name}): ${e.message}`);
    assert.equal(e.$metadata?.httpStatusCode, status);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message ?? '', message);
    return true;
  });
}

export function credsOf(c: { AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string } | undefined): Creds {
  assert.ok(c?.AccessKeyId && c.SecretAccessKey && c.SessionToken);
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
}

export function trustPolicy(statement: Record<string, unknown>): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', ...statement }] });
}
