// Checklist items 1a, 2, 5 and 6 from facts gathered elsewhere (configuration, IAM, ECR, the
// registry, the builder): pure functions from what was seen to a verdict and its fix.

import { isHoistError, type Problem } from '../errors.ts';
import { type Check, CREATE_ACTION, fail, pass, skip } from './check.ts';

/** Problems about the ID token source go to the token check; the rest are configuration. */
export function isTokenProblem(p: Problem): boolean {
  return /AWS_ID_TOKEN|CI_JOB_JWT|id-token|ID token|AWS_WEB_IDENTITY_TOKEN_FILE|ACTIONS_ID_TOKEN/i.test(`${p.source} ${p.message}`);
}

export function checkConfig(problems: readonly Problem[], settings: Readonly<Record<string, string>>): Check {
  const shown = Object.entries(settings).map(([k, v]) => `${k}: ${v}`);
  if (problems.length === 0) return pass('config', shown);
  const fixes = problems.map((p) => p.hint ?? `Fix ${p.source}.`);
  return fail('config', problems.map((p) => `${p.source}: ${p.message}`), [...new Set(fixes)].join('\n'));
}

export interface OidcProviderFact {
  arn: string;
  /** As IAM stores it: `gitlab.com`. */
  url: string;
  clientIds: readonly string[];
}

export function checkProvider(input: { host: string; audiences: readonly string[]; providers: readonly OidcProviderFact[]; account: string }): Check {
  const { host, providers } = input;
  const found = providers.find((p) => p.url.replace(/\/+$/, '').toLowerCase() === host.toLowerCase());
  if (!found) {
    return fail('provider', [
      `account ${input.account} has no IAM OIDC provider for https://${host} (the token's issuer)`,
      providers.length > 0 ? `providers: ${providers.map((p) => p.url).join(', ')}` : 'the account has no OIDC providers',
      'STS answers: InvalidIdentityToken "No OpenIDConnect provider found in your account"',
    ], `aws iam create-open-id-connect-provider --url https://${host} --client-id-list ${input.audiences[0] ?? 'sts.amazonaws.com'} (or run hoist bootstrap)`);
  }
  const listed = `${found.arn} lists client IDs ${found.clientIds.map((c) => JSON.stringify(c)).join(', ') || '(none)'}`;
  if (input.audiences.length > 0 && !input.audiences.some((a) => found.clientIds.includes(a))) {
    const aud = input.audiences[0]!;
    return fail('provider', [listed, `the token's aud ${JSON.stringify(aud)} is not one of them: STS answers "Incorrect token audience"`],
      `Request the token with aud ${found.clientIds[0] ?? 'sts.amazonaws.com'} (id_tokens: AWS_ID_TOKEN: aud: ${found.clientIds[0] ?? 'sts.amazonaws.com'}), or aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn ${found.arn} --client-id ${aud}.`);
  }
  return pass('provider', [listed]);
}

export function checkRepository(input: { name: string; region: string; exists: boolean; createWanted: boolean; createAllowed: boolean | undefined; uri?: string }): Check {
  const { name } = input;
  if (input.exists) return pass('repository', [`repository ${name} exists${input.uri ? ` (${input.uri})` : ''}`]);
  const missing = `repository ${name} does not exist in ${input.region}`;
  const create = `Create the repository "${name}" beforehand: aws ecr create-repository --repository-name ${name} --region ${input.region}`;
  if (!input.createWanted) return fail('repository', [missing, 'creation is off (--no-create-repository)'], create);
  if (input.createAllowed === true) return pass('repository', [missing, `push will create it: the role may ${CREATE_ACTION}`]);
  if (input.createAllowed === false) {
    return fail('repository', [missing, `and the role may not ${CREATE_ACTION} it`], `${create}, or allow ${CREATE_ACTION} on its ARN.`);
  }
  return skip('repository', `${missing}; whether the role may create it is unknown`);
}

/** A check that failed with a hoist error: the message is the evidence, the hint the fix. */
export function failedWith(id: Check['id'], err: unknown, fallbackFix: string): Check {
  const evidence = [err instanceof Error ? err.message : String(err)];
  if (isHoistError(err)) for (const p of err.problems) evidence.push(`${p.source}: ${p.message}`);
  return fail(id, evidence, (isHoistError(err) && err.hint) || fallbackFix);
}
