// `hoist doctor` online: gathers what AWS, the registry and the builder say (doctor-online.ts)
// and hands it to the pure checks of src/doctor/. IAM is read with admin credentials from the
// usual AWS variables when given; otherwise with the assumed role's, and when those may not
// read IAM the check says so and falls back to what STS itself answered.

import type { IAMClient } from '@aws-sdk/client-iam';
import { iamClient, type AwsCredentials, type AwsTarget } from '../aws/clients.ts';
import { getRegistryLogin } from '../aws/ecr.ts';
import { awsErrorName } from '../aws/errors.ts';
import { diagnoseSts } from '../aws/sts-diagnose.ts';
import { assumeRoleWithWebIdentity, type AssumedRole } from '../aws/sts.ts';
import type { BuilderInfo } from '../build/builder.ts';
import { readIdToken } from '../ci/id-token-read.ts';
import { checkPushConfig, type PushFlags } from '../config/push.ts';
import type { Env } from '../config/settings.ts';
import {
  type ActionVerdicts, type Check, CREATE_ACTION, checkConfig, checkPermissions, checkProvider, checkRepository, checkToken, checkTrust,
  fail, failedWith, isTokenProblem, parsePolicyFile, pass, repositoryArn, reviewCheck, reviewPermissions, reviewTrust, skip, verdictsFromPolicies,
  type OidcProviderFact,
} from '../doctor/index.ts';
import { isHoistError } from '../errors.ts';
import { parseRoleArn, type RoleArn } from '../model/aws.ts';
import { providerHost } from '../policy/web-identity.ts';
import { checkLogin } from '../registry/ping.ts';
import { describeRepository, fact, getRole, listProviders, probe, rolePolicies, simulate, type Fact, type RoleFact } from './doctor-online.ts';

export interface DoctorInput {
  env: Env;
  flags: PushFlags;
  file?: { path: string; text: string };
  /** `--token FILE|-`: the token text, instead of the configured source. */
  token?: { text: string; source: string };
  builder: { check(): Promise<BuilderInfo> };
  now?: () => number;
}

interface Facts {
  target: AwsTarget;
  role?: RoleArn;
  repository?: string;
  createWanted: boolean;
  admin?: AwsCredentials;
  assumed?: AssumedRole;
  sts?: { name: string; message: string };
}

export async function doctor(input: DoctorInput): Promise<Check[]> {
  const now = (input.now ?? Date.now)();
  const { config, problems } = checkPushConfig({ env: input.env, flags: input.flags, ...(input.file ? { file: input.file } : {}) });
  const tokenProblems = input.token ? [] : problems.filter(isTokenProblem);
  const f = lenient(input, config);
  const checks: Check[] = [checkConfig(problems.filter((p) => !isTokenProblem(p)), settingsShown(f, config?.sources ?? {}))];
  const tokenText = input.token?.text ?? (config ? (await readIdToken(config.idToken).catch(() => undefined))?.reveal() : undefined);
  const iam = f.admin ? await iamClient(f.target, f.admin) : undefined;
  const providers = iam ? await fact(() => listProviders(iam)) : undefined;
  const issuerHost = hostOf(tokenText);
  const provider = providers?.ok && issuerHost ? providers.value.find((p) => p.url.toLowerCase() === issuerHost.toLowerCase()) : undefined;
  const tv = checkToken({
    ...(tokenText !== undefined ? { token: tokenText } : {}), source: input.token?.source ?? config?.sources['id-token'] ?? 'AWS_ID_TOKEN (environment)',
    problems: tokenProblems, nowMs: now,
    ...(provider ? { audiences: provider.clientIds, audienceSource: `the IAM OIDC provider ${provider.arn}` } : {}),
  });
  checks.push(tv.check);
  if (tokenText !== undefined && tokenProblems.length === 0 && f.role) await exchange(f, tokenText, config?.aws.sessionName);
  checks.push(providerCheck(providers, issuerHost, tv.claims, f));
  const roleFact = iam && f.role ? await fact(() => getRole(iam, f.role!.name)) : undefined;
  const trustDoc = roleFact?.ok && roleFact.value ? parsePolicyFile({ text: roleFact.value.trustPolicy, source: `role ${f.role!.name} trust policy` }, 'trust') : undefined;
  checks.push(trustCheck(f, roleFact, trustDoc?.doc, tv.claims, tv.audience, provider));
  const perm = await permissions(f, iam);
  checks.push(perm.check);
  checks.push(...await repositoryAndRegistry(f, perm.verdicts));
  checks.push(await builderCheck(input.builder));
  if (trustDoc?.doc) checks.push(reviewCheck('review-trust', reviewTrust(trustDoc.doc), trustDoc.doc.source));
  if (perm.docs.length > 0) checks.push(reviewCheck('review-permissions', reviewPermissions(perm.docs, repoArn(f)), perm.docs.map((d) => d.source).join(', ')));
  iam?.destroy();
  return checks;
}

type PushConfigOk = NonNullable<ReturnType<typeof checkPushConfig>['config']>;

/** The settings doctor can use even when configuration has problems (each problem is reported). */
function lenient(input: DoctorInput, config: PushConfigOk | undefined): Facts {
  const env = (k: string) => input.env[k]?.trim() || undefined;
  const rawRole = input.flags.roleArn ?? env('AWS_ROLE_ARN');
  const parsedRole = rawRole ? parseRoleArn(rawRole) : undefined;
  const role = config?.aws.roleArn ?? (parsedRole?.ok ? parsedRole.value : undefined);
  const region = config?.aws.region ?? input.flags.region ?? env('AWS_REGION') ?? env('AWS_DEFAULT_REGION') ?? 'us-east-1';
  const endpoint = config?.aws.endpoint ?? input.flags.endpointUrl ?? env('AWS_ENDPOINT_URL');
  const key = env('AWS_ACCESS_KEY_ID');
  const secret = env('AWS_SECRET_ACCESS_KEY');
  const session = env('AWS_SESSION_TOKEN');
  const repository = config?.repository.name ?? input.flags.repository ?? env('ECR_REPOSITORY');
  return {
    target: { region, ...(endpoint ? { endpoint } : {}) },
    ...(role ? { role } : {}),
    ...(repository ? { repository } : {}),
    createWanted: config?.repository.create ?? input.flags.createRepository !== false,
    ...(key && secret ? { admin: { accessKeyId: key, secretAccessKey: secret, ...(session ? { sessionToken: session } : {}) } } : {}),
  };
}

function settingsShown(f: Facts, sources: Record<string, string>): Record<string, string> {
  const from = (k: string) => (sources[k] ? ` (${sources[k]})` : '');
  return {
    ...(f.role ? { 'role ARN': `${f.role.arn}${from('role-arn')}` } : {}),
    region: `${f.target.region}${from('region')}`,
    ...(f.repository ? { repository: `${f.repository}${from('repository')}` } : {}),
    ...(f.target.endpoint ? { endpoint: `${f.target.endpoint}${from('endpoint-url')}` } : {}),
  };
}

function hostOf(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    return typeof claims.iss === 'string' ? providerHost(claims.iss) : undefined;
  } catch {
    return undefined;
  }
}

/** The real exchange: its answer is evidence, and its credentials let doctor test ECR as push would. */
async function exchange(f: Facts, token: string, sessionName = 'hoist-doctor'): Promise<void> {
  try {
    f.assumed = await assumeRoleWithWebIdentity(f.target, { roleArn: f.role!.arn, sessionName, token }, { sleep: async () => {} });
  } catch (err) {
    const cause = isHoistError(err) ? err.cause : err;
    f.sts = { name: awsErrorName(cause), message: (cause as Error | undefined)?.message ?? String(err) };
  }
}

function stsEvidence(f: Facts): string {
  return f.assumed ? `STS: AssumeRoleWithWebIdentity succeeded (${f.assumed.assumedRoleArn})` : f.sts ? `STS: AssumeRoleWithWebIdentity answered ${f.sts.name}: ${f.sts.message}` : 'STS: not called';
}

function providerCheck(providers: Fact<OidcProviderFact[]> | undefined, host: string | undefined, claims: Record<string, unknown> | undefined, f: Facts): Check {
  if (!host || !claims) return skip('provider', 'no decodable ID token: its issuer is unknown');
  if (providers?.ok) {
    const auds = [claims.aud].flat().filter((a): a is string => typeof a === 'string');
    return checkProvider({ host, audiences: auds, providers: providers.value, account: f.role?.account ?? '?' });
  }
  const why = providers ? `cannot list IAM OIDC providers (${providers.error})` : 'no IAM read credentials (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY of an IAM reader)';
  if (f.sts && /No OpenIDConnect provider|audience/i.test(f.sts.message)) {
    const d = diagnoseSts(f.sts.name, f.sts.message, claims, f.role?.arn ?? '');
    return fail('provider', [why, stsEvidence(f), d.message], d.hint);
  }
  return skip('provider', why, [stsEvidence(f)]);
}

function trustCheck(f: Facts, role: Fact<RoleFact | undefined> | undefined, doc: Parameters<typeof checkTrust>[0]['policy'] | undefined,
  claims: Record<string, unknown> | undefined, audience: string | undefined, provider: OidcProviderFact | undefined): Check {
  if (!f.role) return skip('trust', 'no valid role ARN (AWS_ROLE_ARN)');
  if (role?.ok && role.value === undefined) {
    return fail('trust', [`role ${f.role.name} does not exist (iam:GetRole: NoSuchEntity)`, stsEvidence(f)],
      `Create the role ${f.role.name} with the trust and permissions policies (hoist bootstrap), or fix AWS_ROLE_ARN.`);
  }
  if (role?.ok && role.value && role.value.arn !== f.role.arn) {
    return fail('trust', [`role ARN in another account: AWS_ROLE_ARN is ${f.role.arn}, but the role ${f.role.name} these credentials see is ${role.value.arn}`],
      `Set AWS_ROLE_ARN to ${role.value.arn} (and AWS_ACCOUNT_ID to its account), or point hoist at the account that holds ${f.role.arn}.`);
  }
  if (role?.ok && doc && claims) {
    const c = checkTrust({ policy: doc, claims, ...(audience ? { audience } : {}), role: f.role, ...(provider ? { providerArn: provider.arn } : {}) });
    return { ...c, evidence: [...c.evidence, stsEvidence(f)] };
  }
  if (role?.ok && !doc) return fail('trust', [`the trust policy of ${f.role.name} does not parse`], 'Fix the trust policy document.');
  const why = role ? `cannot read the role (${(role as { error: string }).error})` : 'no IAM read credentials: the trust policy was not read';
  if (f.assumed) return pass('trust', [why, stsEvidence(f)]);
  if (f.sts && claims && /AccessDenied/.test(f.sts.name)) {
    const d = diagnoseSts(f.sts.name, f.sts.message, claims, f.role.arn);
    return fail('trust', [why, stsEvidence(f), d.message], d.hint);
  }
  return skip('trust', why, [stsEvidence(f)]);
}

function repoArn(f: Facts): string | undefined {
  return f.role && f.repository ? repositoryArn(f.role.partition, f.target.region, f.role.account, f.repository) : undefined;
}

async function permissions(f: Facts, iam: IAMClient | undefined): Promise<{ check: Check; verdicts: ActionVerdicts; docs: NonNullable<ReturnType<typeof parsePolicyFile>['doc']>[] }> {
  const arn = repoArn(f);
  if (!arn || !f.role) return { check: skip('permissions', 'no role ARN or repository configured'), verdicts: {}, docs: [] };
  const files = iam ? await fact(() => rolePolicies(iam, f.role!.name)) : undefined;
  const docs = files?.ok ? files.value.map((x) => parsePolicyFile(x, 'identity').doc).filter((d) => d !== undefined) : [];
  const simulated = iam ? await fact(() => simulate(iam, f.role!.arn, arn)) : undefined;
  const base = { repositoryArn: arn, createWanted: f.createWanted };
  if (simulated?.ok) {
    const local = docs.length > 0 ? verdictsFromPolicies(docs, arn, f.role.arn) : {};
    const verdicts = Object.fromEntries(Object.entries(simulated.value).map(([a, v]) => [a, v.allowed ? v : { allowed: false, why: local[a]?.why ?? v.why }])) as ActionVerdicts;
    return { check: checkPermissions({ verdicts, basis: 'iam:SimulatePrincipalPolicy', ...base }), verdicts, docs };
  }
  if (files?.ok) {
    const verdicts = verdictsFromPolicies(docs, arn, f.role.arn);
    return { check: checkPermissions({ verdicts, basis: `the role's policy documents (${simulated && !simulated.ok ? simulated.error : 'no simulator'})`, ...base }), verdicts, docs };
  }
  if (f.assumed) {
    const verdicts = await probe(f.target, f.assumed.credentials, f.repository!);
    return { check: checkPermissions({ verdicts, basis: 'harmless probe calls with the assumed role (IAM not readable)', ...base }), verdicts, docs };
  }
  return { check: skip('permissions', iam ? `cannot read the role's policies (${(files as { error: string }).error})` : 'no IAM read credentials, and STS gave no role credentials to probe with', [stsEvidence(f)]), verdicts: {}, docs };
}

async function repositoryAndRegistry(f: Facts, verdicts: ActionVerdicts): Promise<Check[]> {
  const creds = f.admin ?? f.assumed?.credentials;
  let repo: Check;
  if (!f.repository) repo = skip('repository', 'ECR_REPOSITORY is not set');
  else if (!creds) repo = skip('repository', 'no credentials to describe the repository with', [stsEvidence(f)]);
  else {
    const found = await fact(() => describeRepository(f.target, creds, f.repository!));
    repo = found.ok
      ? checkRepository({ name: f.repository, region: f.target.region, exists: found.value !== undefined, createWanted: f.createWanted,
        createAllowed: verdicts[CREATE_ACTION]?.allowed, ...(found.value ? { uri: found.value.uri } : {}) })
      : skip('repository', `DescribeRepositories failed: ${found.error}`);
  }
  return [repo, await registryCheck(f)];
}

async function registryCheck(f: Facts): Promise<Check> {
  if (!f.assumed) return skip('registry', 'no role credentials: STS did not admit the token', [stsEvidence(f)]);
  try {
    const login = await getRegistryLogin(f.target, f.assumed.credentials);
    await checkLogin(login);
    return pass('registry', [`${login.registry} accepted the ECR login (token until ${login.expiresAt.toISOString()})`]);
  } catch (err) {
    return failedWith('registry', err, 'The role needs ecr:GetAuthorizationToken on Resource "*".');
  }
}

async function builderCheck(builder: DoctorInput['builder']): Promise<Check> {
  try {
    const info = await builder.check();
    return pass('builder', [`${info.backend} ${info.version} at ${info.endpoint} (${info.mode})`, ...info.notes]);
  } catch (err) {
    return failedWith('builder', err, 'Start the engine or fix DOCKER_HOST (DinD: services: docker:dind, DOCKER_HOST=tcp://docker:2375, DOCKER_TLS_CERTDIR="", privileged runner).');
  }
}

