// Checklist item 4: may the role do every ECR action a push needs? Decided from the IAM policy
// simulator when hoist may call it, else from the role's policy documents evaluated locally,
// else from harmless probe calls made with the assumed role's credentials.

import { evaluate, explainDenial, type PolicyDocument } from '../policy/index.ts';
import { type Check, CREATE_ACTION, fail, LOGIN_ACTION, pass, PUSH_ACTIONS, skip, warn } from './check.ts';

/** What is known about one action: allowed, denied (with why), or not known. */
export interface ActionVerdict {
  allowed: boolean | undefined;
  why?: string;
}

export type ActionVerdicts = Record<string, ActionVerdict>;

export interface PermissionsInput {
  verdicts: ActionVerdicts;
  /** How the verdicts were obtained, e.g. `iam:SimulatePrincipalPolicy`. */
  basis: string;
  repositoryArn: string;
  /** Push may create the repository when missing (ecr:CreateRepository is then needed). */
  createWanted: boolean;
}

/** The actions doctor asks about, with the resource each applies to. */
export function requiredActions(repositoryArn: string): { action: string; resource: string }[] {
  return [{ action: LOGIN_ACTION, resource: '*' }, ...[...PUSH_ACTIONS, CREATE_ACTION].map((action) => ({ action, resource: repositoryArn }))];
}

/** Verdicts from identity policy documents (inline and attached), evaluated locally. */
export function verdictsFromPolicies(policies: readonly PolicyDocument[], repositoryArn: string, roleArn?: string): ActionVerdicts {
  const out: ActionVerdicts = {};
  for (const { action, resource } of requiredActions(repositoryArn)) {
    const ev = evaluate(policies, { action, resource, keys: roleArn ? { 'aws:PrincipalArn': roleArn } : {} });
    out[action] = ev.decision === 'allow' ? { allowed: true } : { allowed: false, why: explainDenial(ev).join('; ') || ev.decision };
  }
  return out;
}

export function checkPermissions(input: PermissionsInput): Check {
  const { verdicts, repositoryArn } = input;
  const needed = [LOGIN_ACTION, ...PUSH_ACTIONS, ...(input.createWanted ? [CREATE_ACTION] : [])];
  const known = needed.filter((a) => verdicts[a]?.allowed !== undefined);
  if (known.length === 0) return skip('permissions', `no verdict from ${input.basis}`);
  const denied = needed.filter((a) => verdicts[a]?.allowed === false);
  const unknown = needed.filter((a) => verdicts[a]?.allowed === undefined);
  const allowed = needed.filter((a) => verdicts[a]?.allowed === true);
  const evidence = [`from ${input.basis}`, ...(allowed.length > 0 ? [`allowed: ${allowed.join(', ')}`] : [])];
  const createNote = !input.createWanted && verdicts[CREATE_ACTION]?.allowed === true ? [`${CREATE_ACTION} is allowed but creation is not wanted`] : [];
  if (denied.length > 0) {
    const lines = denied.map((a) => `denied: ${a} on ${a === LOGIN_ACTION ? '*' : repositoryArn}${verdicts[a]!.why ? ` — ${verdicts[a]!.why}` : ''}`);
    return fail('permissions', [...evidence, ...lines, ...unknownLines(unknown)], fixFor(denied, repositoryArn));
  }
  if (unknown.length > 0) {
    return warn('permissions', [...evidence, ...unknownLines(unknown), ...createNote],
      'Let doctor read the role (run it with IAM read credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or compare the role with the seed\'s permissions list.');
  }
  return pass('permissions', [...evidence, ...createNote]);
}

function unknownLines(unknown: readonly string[]): string[] {
  return unknown.length > 0 ? [`not verified (no harmless probe exists): ${unknown.join(', ')}`] : [];
}

function fixFor(denied: readonly string[], repositoryArn: string): string {
  const lines: string[] = [];
  if (denied.includes(LOGIN_ACTION)) lines.push(`Allow ${LOGIN_ACTION} on Resource "*" (it is not scoped to a repository).`);
  const push = denied.filter((a) => a !== LOGIN_ACTION && a !== CREATE_ACTION);
  if (push.length > 0) lines.push(`Allow ${push.join(', ')} on Resource "${repositoryArn}".`);
  if (denied.includes(CREATE_ACTION)) {
    lines.push(`Allow ${CREATE_ACTION} on Resource "${repositoryArn}", or create the repository beforehand (aws ecr create-repository) and push with --no-create-repository.`);
  }
  return lines.join('\n');
}
