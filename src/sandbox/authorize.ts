// Authorizes a caller's action on a resource the way IAM does for identity-based policies:
// root may do anything; an assumed role is allowed what its inline and attached policies
// allow and nothing they explicitly deny.

import { evaluate, parsePolicy, type PolicyDocument } from '../policy/index.ts';
import { AwsFault } from './protocol.ts';
import type { World } from './state.ts';
import type { Principal, WorldState } from './world.ts';

export function rolePolicies(state: WorldState, roleName: string): PolicyDocument[] {
  const role = state.roles[roleName];
  if (!role) return [];
  const inline = Object.entries(role.inlinePolicies).map(([name, doc]) => parsePolicy(doc, `inline policy ${name}`));
  const attached = role.attachedPolicyArns.flatMap((arn) => {
    const p = state.policies[arn];
    const v = p?.versions[p.defaultVersionId];
    return v ? [parsePolicy(v.document, arn)] : [];
  });
  return [...inline, ...attached];
}

export type Denial = { allowed: true } | { allowed: false; message: string };

export function check(world: World, principal: Principal, action: string, resource: string): Denial {
  if (principal.kind === 'root') return { allowed: true };
  const docs = rolePolicies(world.state, principal.roleName);
  const ev = evaluate(docs, { action, resource, keys: { 'aws:PrincipalArn': principal.roleArn } });
  if (ev.decision === 'allow') return { allowed: true };
  const why = ev.decision === 'explicit-deny'
    ? `with an explicit deny in an identity-based policy`
    : `because no identity-based policy allows the ${action} action`;
  return {
    allowed: false,
    message: `User: ${principal.arn} is not authorized to perform: ${action} on resource: ${resource} ${why}`,
  };
}

/** Throws AWS's access-denied fault: `AccessDeniedException` for JSON services, `AccessDenied` for Query ones. */
export function authorize(world: World, principal: Principal, action: string, resource: string, code = 'AccessDeniedException'): void {
  const d = check(world, principal, action, resource);
  if (!d.allowed) throw new AwsFault(code, d.message, code === 'AccessDenied' ? 403 : 400);
}
