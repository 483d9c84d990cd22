// The seed's "Security notes" as a review of the two policies: the trust policy scoped to
// one project (sub + aud, with project_id/namespace_id pins on gitlab.com) and least-privilege
// ECR permissions on the repository ARN. Pure: works on policy files alone, without AWS.

import { globMatch, parseOperator, type ConditionEntry, type PolicyDocument, type Statement } from '../policy/index.ts';
import { type Check, check, LOGIN_ACTION, SEED_ACTIONS, WEB_IDENTITY_ACTION } from './check.ts';

export type FindingId =
  | 'trust.no-sub' | 'trust.sub-wide' | 'trust.equals-wildcard' | 'trust.like-no-wildcard' | 'trust.no-aud'
  | 'trust.no-id-pin' | 'trust.principal-any'
  | 'permissions.wildcard-action' | 'permissions.extra-actions' | 'permissions.resource-star' | 'permissions.not-elements';

export interface Finding {
  id: FindingId;
  where: string;
  message: string;
  fix: string;
}

const at = (doc: PolicyDocument, s: Statement) => `${doc.source} statement ${s.index}${s.sid ? ` (Sid "${s.sid}")` : ''}`;

function federatedHosts(s: Statement): string[] {
  if (s.principal === undefined || s.principal === '*') return [];
  return (s.principal.Federated ?? []).map((arn) => /oidc-provider\/(.+)$/.exec(arn)?.[1]).filter((h): h is string => h !== undefined);
}

function isWebIdentity(s: Statement): boolean {
  return s.effect === 'Allow' && (s.action ?? []).some((a) => globMatch(a, WEB_IDENTITY_ACTION, true));
}

const keyIs = (c: ConditionEntry, host: string, claim: string) => c.key.toLowerCase() === `${host}:${claim}`.toLowerCase();
const hasWildcard = (v: string) => /[*?]/.test(v);

export function reviewTrust(doc: PolicyDocument): Finding[] {
  const out: Finding[] = [];
  for (const s of doc.statements) {
    if (s.effect === 'Allow' && (s.principal === '*' || (s.principal?.AWS ?? []).includes('*'))) {
      out.push({ id: 'trust.principal-any', where: at(doc, s), message: 'Principal "*" lets anyone assume the role', fix: 'Name the OIDC provider: "Principal": {"Federated": "arn:aws:iam::<account>:oidc-provider/gitlab.com"}.' });
    }
    if (!isWebIdentity(s)) continue;
    for (const host of federatedHosts(s)) out.push(...reviewStatement(doc, s, host));
  }
  return out;
}

function reviewStatement(doc: PolicyDocument, s: Statement, host: string): Finding[] {
  const where = at(doc, s);
  const out: Finding[] = [];
  const subs = s.conditions.filter((c) => keyIs(c, host, 'sub'));
  const pin = `"${host}:sub": "project_path:<group>/<project>:ref_type:branch:ref:main"`;
  if (subs.length === 0) {
    out.push({ id: 'trust.no-sub', where, message: `no ${host}:sub condition: any project on ${host} can assume the role`, fix: `Scope the role to your project: StringLike ${pin} (or :ref:* for every branch).` });
  }
  for (const c of subs) out.push(...reviewSub(c, where, host));
  for (const c of s.conditions) {
    const op = parseOperator(c.operator);
    if (op?.base === 'StringLike' && !c.values.some(hasWildcard)) {
      out.push({ id: 'trust.like-no-wildcard', where, message: `${c.operator} ${c.key} uses no wildcard`, fix: `Use StringEquals for ${c.key}: it states the intent (an exact value) and cannot be widened by a stray * later.` });
    }
  }
  if (!s.conditions.some((c) => keyIs(c, host, 'aud'))) {
    out.push({ id: 'trust.no-aud', where, message: `no ${host}:aud condition: tokens minted for any audience the provider lists are accepted`, fix: `Add StringEquals "${host}:aud": "sts.amazonaws.com".` });
  }
  const pathBased = subs.some((c) => c.values.some((v) => v.startsWith('project_path:')));
  const pinned = s.conditions.some((c) => keyIs(c, host, 'project_id') || keyIs(c, host, 'namespace_id'));
  if (host === 'gitlab.com' && pathBased && !pinned) {
    out.push({ id: 'trust.no-id-pin', where, message: 'sub is path-based and neither gitlab.com:project_id nor gitlab.com:namespace_id is pinned: a new project reusing a deleted or renamed path would match', fix: 'Add StringEquals "gitlab.com:project_id": "<your project ID>" (and "gitlab.com:namespace_id").' });
  }
  return out;
}

function reviewSub(c: ConditionEntry, where: string, host: string): Finding[] {
  const op = parseOperator(c.operator);
  const out: Finding[] = [];
  if ((op?.base === 'StringEquals' || op?.base === 'StringEqualsIgnoreCase') && c.values.some(hasWildcard)) {
    out.push({ id: 'trust.equals-wildcard', where, message: `${c.operator} ${c.key} has a wildcard, which ${op.base} compares literally: no token ever matches`, fix: `Use StringLike for ${c.key}.` });
  }
  if (op?.base !== 'StringLike' && op?.base !== 'StringNotLike') return out;
  const wide = c.values.filter((v) => hasWildcard(projectPart(v)));
  if (wide.length > 0) {
    out.push({ id: 'trust.sub-wide', where, message: `${c.key} ${wide.map((v) => JSON.stringify(v)).join(', ')} matches more than one project on ${host}`, fix: `Name exactly one project: "project_path:<group>/<project>:ref_type:branch:ref:*".` });
  }
  return out;
}

/** The part of a sub value that names the project: `mygroup/myrepo` in project_path:mygroup/myrepo:ref_type:…. */
function projectPart(v: string): string {
  const m = /^(?:project_path|project_id):([^:]*)/.exec(v);
  return m ? m[1]! : v;
}

export function reviewPermissions(docs: readonly PolicyDocument[], repositoryArn?: string): Finding[] {
  const out: Finding[] = [];
  const seed = new Set(SEED_ACTIONS.map((a) => a.toLowerCase()));
  const scope = repositoryArn ?? 'arn:aws:ecr:<region>:<account>:repository/<name>';
  for (const doc of docs) {
    for (const s of doc.statements.filter((x) => x.effect === 'Allow')) {
      const where = at(doc, s);
      if (s.notAction || s.notResource) {
        out.push({ id: 'permissions.not-elements', where, message: 'Allow with NotAction/NotResource grants everything not listed', fix: 'List the allowed actions and resources explicitly.' });
      }
      const actions = s.action ?? [];
      const wild = actions.filter(hasWildcard);
      if (wild.length > 0) {
        out.push({ id: 'permissions.wildcard-action', where, message: `wildcard action ${wild.join(', ')} grants far more than push needs`, fix: `List the seed's actions instead: ${SEED_ACTIONS.join(', ')}.` });
      }
      const extra = actions.filter((a) => !hasWildcard(a) && !seed.has(a.toLowerCase()));
      if (extra.length > 0) {
        out.push({ id: 'permissions.extra-actions', where, message: `actions beyond what push needs: ${extra.join(', ')}`, fix: 'Remove them, or move them to a separate role.' });
      }
      const scoped = actions.filter((a) => a.toLowerCase() !== LOGIN_ACTION.toLowerCase());
      if ((s.resource ?? []).includes('*') && scoped.length > 0) {
        out.push({ id: 'permissions.resource-star', where, message: `${scoped.join(', ')} on Resource "*": every repository in the account`, fix: `Scope them to the repository: "Resource": "${scope}" (only ${LOGIN_ACTION} needs "*").` });
      }
    }
  }
  return out;
}

export function reviewCheck(id: 'review-trust' | 'review-permissions', findings: readonly Finding[], what: string): Check {
  if (findings.length === 0) return check(id, 'pass', [`${what}: no weakness found`]);
  return check(id, 'warn', findings.map((f) => `${f.where}: ${f.message}`), [...new Set(findings.map((f) => f.fix))].join('\n'));
}
