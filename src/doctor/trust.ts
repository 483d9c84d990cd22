// Checklist item 3: does the role's trust policy admit this token? Evaluated locally with the
// keys STS would set (src/policy/web-identity.ts), and every refusal said in the user's terms:
// which condition, what the token has, the usual cause (pain point 1 of mission-anchors) and
// the edit that fixes it.

import { evaluate, explainDenial, parseOperator, type ConditionResult, type PolicyDocument, type StatementResult } from '../policy/index.ts';
import { providerHost, webIdentityContextKeys } from '../policy/web-identity.ts';
import { type Check, fail, oidcProviderArn, pass, WEB_IDENTITY_ACTION } from './check.ts';
import { claimEvidence } from './token.ts';

export interface TrustInput {
  policy: PolicyDocument;
  claims: Record<string, unknown>;
  /** The `aud` STS matched; defaults to the token's first audience. */
  audience?: string;
  role: { arn: string; account: string; partition: string };
  /** The IAM OIDC provider ARN STS would use for the token's issuer (default: in the role's account). */
  providerArn?: string;
  sessionName?: string;
}

interface Diagnosis {
  cause: string;
  fix: string;
}

export function checkTrust(input: TrustInput): Check {
  const { claims } = input;
  const iss = String(claims.iss ?? '');
  const host = providerHost(iss);
  const federated = input.providerArn ?? oidcProviderArn(input.role.partition, input.role.account, host);
  const aud = input.audience ?? [claims.aud].flat().find((a): a is string => typeof a === 'string') ?? '';
  const keys = webIdentityContextKeys({
    provider: host, audience: aud, subject: String(claims.sub ?? ''), claims,
    ...(input.sessionName !== undefined ? { sessionName: input.sessionName } : {}),
  });
  const ev = evaluate([input.policy], { action: WEB_IDENTITY_ACTION, principal: { federated }, keys });
  const seen = claimEvidence(claims);
  if (ev.decision === 'allow') {
    const s = ev.statements.find((x) => x.applies && x.effect === 'Allow')!;
    return pass('trust', [`${input.policy.source} statement ${s.index}${s.sid ? ` (Sid "${s.sid}")` : ''} admits federated ${federated} with ${seen.slice(0, 3).join(', ')}`,
      ...s.conditions.map((c) => c.reason)]);
  }
  const diagnoses = ev.decision === 'explicit-deny' ? [] : diagnose(closest(ev.statements), claims, host, federated, input.role.account);
  const evidence = [`${input.policy.source} refuses ${WEB_IDENTITY_ACTION} (${ev.decision}) for ${seen.slice(0, 3).join(', ')}`,
    ...diagnoses.map((d) => d.cause), ...explainDenial(ev)];
  const fix = diagnoses.length > 0 ? unique(diagnoses.map((d) => d.fix)).join('\n') : 'Remove or narrow the Deny statement named above.';
  return fail('trust', unique(evidence), fix);
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

function closeness(s: StatementResult): number {
  const passed = s.conditions.filter((c) => c.passed).length;
  return (s.actionMatched ? 8 : 0) + (s.principalMatched ? 4 : 0) + (s.conditions.length === 0 ? 1 : passed / s.conditions.length);
}

/** The Allow statements that came closest to admitting the token. */
function closest(statements: readonly StatementResult[]): StatementResult[] {
  const allows = statements.filter((s) => s.effect === 'Allow');
  if (allows.length === 0) return [];
  const best = Math.max(...allows.map(closeness));
  return allows.filter((s) => closeness(s) === best);
}

function diagnose(statements: StatementResult[], claims: Record<string, unknown>, host: string, federated: string, account: string): Diagnosis[] {
  if (statements.length === 0) {
    return [{ cause: `no Allow statement for ${WEB_IDENTITY_ACTION}`, fix: `Add a statement allowing ${WEB_IDENTITY_ACTION} to Principal {"Federated": "${federated}"}.` }];
  }
  return statements.flatMap((s) => [
    ...(s.actionMatched ? [] : [{ cause: `the statement's Action does not include ${WEB_IDENTITY_ACTION}`, fix: `Set "Action": "${WEB_IDENTITY_ACTION}" (sts:AssumeRole is a different action).` }]),
    ...(s.principalMatched ? [] : [principalDiagnosis(s, federated, account)]),
    ...s.conditions.filter((c) => !c.passed).map((c) => conditionDiagnosis(c, s.conditions, claims, host)),
  ]);
}

function principalDiagnosis(s: StatementResult, federated: string, account: string): Diagnosis {
  const named = /Principal (.*) does not include/.exec(s.mismatches.join(' '))?.[1] ?? 'the Principal';
  const other = /oidc-provider/.test(named) && !named.includes(`::${account}:`) ? ` (it names a provider in another account than the role's, ${account})` : '';
  return {
    cause: `Federated principal/provider ARN wrong: the statement names ${named}${other}, but this token's identity provider is ${federated}`,
    fix: `Set "Principal": {"Federated": "${federated}"} in the trust policy (the provider of the token's issuer, in the role's account).`,
  };
}

const SUB = /^project_path:(.+):ref_type:([^:]+):ref:(.*)$/;

function conditionDiagnosis(c: ConditionResult, all: readonly ConditionResult[], claims: Record<string, unknown>, host: string): Diagnosis {
  const [keyHost, claim = ''] = splitKey(c.key);
  const shown = `${c.operator} ${c.key} ${JSON.stringify(c.expected.length === 1 ? c.expected[0] : c.expected)}`;
  if (keyHost.toLowerCase() !== host.toLowerCase() && keyHost !== 'sts' && keyHost !== 'aws') {
    return { cause: `condition ${shown} names issuer ${keyHost}, but the token is from ${host}`, fix: `Use the condition keys of the token's issuer: ${host}:aud and ${host}:sub.` };
  }
  if (c.actual === undefined) return missingKey(c, claim, host);
  if (claim === 'aud') {
    return {
      cause: `audience mismatch: ${shown} fails, the token's aud is ${JSON.stringify(c.actual[0])}`,
      fix: `Make the token and the policy agree: id_tokens: AWS_ID_TOKEN: aud: ${c.expected[0]} in the job, or "${c.key}": "${c.actual[0]}" in the trust policy (and as a client ID of the provider).`,
    };
  }
  if (claim === 'sub') return subDiagnosis(c, shown, all, claims);
  return {
    cause: `${shown} fails: the token's ${claim} is ${JSON.stringify(c.actual.join(','))}`,
    fix: `If this pipeline should assume the role, set "${c.key}" to "${c.actual[0]}" (or drop the pin); otherwise run the job from the project/ref the policy names.`,
  };
}

function splitKey(key: string): [string, string?] {
  const i = key.lastIndexOf(':');
  return i < 0 ? [key] : [key.slice(0, i), key.slice(i + 1)];
}

function missingKey(c: ConditionResult, claim: string, host: string): Diagnosis {
  const onlyGitlabCom = host !== 'gitlab.com' ? ` For ${host} (not gitlab.com) AWS sets only ${host}:aud and ${host}:sub.` : '';
  return {
    cause: `condition ${c.operator} ${c.key}: AWS sets no such key for this token, so the condition can never match`,
    fix: `Remove the ${c.key} condition and encode ${claim || 'it'} in ${host}:sub instead (e.g. project_path:<group>/<project>:ref_type:branch:ref:main).${onlyGitlabCom}`,
  };
}

function subDiagnosis(c: ConditionResult, shown: string, all: readonly ConditionResult[], claims: Record<string, unknown>): Diagnosis {
  const sub = c.actual![0]!;
  const op = parseOperator(c.operator);
  const wild = c.expected.find((e) => /[*?]/.test(e));
  if (op?.base === 'StringEquals' && wild !== undefined) {
    return {
      cause: `StringEquals used with a wildcard: ${shown} compares "${wild}" literally, so the token's sub "${sub}" never equals it`,
      fix: `Use "StringLike" for ${c.key} (only StringLike expands * and ?).`,
    };
  }
  const token = SUB.exec(sub);
  const wanted = c.expected.map((e) => SUB.exec(e)).filter((m): m is RegExpExecArray => m !== null);
  if (!token || wanted.length === 0) return { cause: `${shown} fails: the token's sub is "${sub}"`, fix: `Make ${c.key} match "${sub}" (StringLike for patterns).` };
  const [, path, refType, ref] = token as unknown as [string, string, string, string];
  const like = (p: string, v: string) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(v);
  const sameProject = wanted.filter((w) => like(w[1]!, path));
  if (sameProject.length > 0 && refType === 'tag' && sameProject.every((w) => w[2] === 'branch')) {
    return {
      cause: `tag pipeline against a branch-only policy: the token's sub is "${sub}" (ref_type:tag), and ${c.key} admits only ref_type:branch`,
      fix: `Add "project_path:${path}:ref_type:tag:ref:*" (or your tag pattern, e.g. v*) to ${c.key} under StringLike, or push from a branch.`,
    };
  }
  if (sameProject.some((w) => like(w[2]!, refType))) {
    const refs = sameProject.map((w) => w[3]).join(', ');
    return {
      cause: `sub for another ${refType}: ${c.key} admits ref ${refs}, but this pipeline runs on ${refType} "${ref}" (sub "${sub}")`,
      fix: `Add "project_path:${path}:ref_type:${refType}:ref:${ref}" to ${c.key} (StringLike "…:ref:*" admits every ${refType}), or run the job on ${refs} (the seed's rules: only run on that branch).`,
    };
  }
  return projectDiagnosis(c, all, claims, path, sub);
}

function projectDiagnosis(c: ConditionResult, all: readonly ConditionResult[], claims: Record<string, unknown>, path: string, sub: string): Diagnosis {
  const policyPaths = c.expected.map((e) => SUB.exec(e)?.[1]).filter((p) => p !== undefined).join(', ');
  const idPin = all.find((x) => /:project_id$/.test(x.key));
  if (idPin?.passed) {
    return {
      cause: `project path renamed or moved: ${c.key} names ${policyPaths}, but project_id ${String(claims.project_id)} (which the policy pins) now has the path ${path} (sub "${sub}")`,
      fix: `Update ${c.key} to "project_path:${path}:…", or make the sub claim start with project_id (ci_id_token_sub_claim_components) so renames do not break the role.`,
    };
  }
  return {
    cause: `sub of another project: ${c.key} admits ${policyPaths}, but the token is from ${path} (sub "${sub}"); if the project was renamed or moved, the policy still names its old path`,
    fix: `If ${path} should push, scope ${c.key} to "project_path:${path}:ref_type:branch:ref:*" (StringLike) and pin gitlab.com:project_id; otherwise run the job in ${policyPaths}.`,
  };
}
