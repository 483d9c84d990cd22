// Role trust policies against GitLab CI ID tokens, in the sandbox's default world.
// Each row's verdict comes from the documented semantics named in its `rule`, not from running
// the code: IAM "Condition operators", "Condition" and "Policy evaluation logic" pages, the
// GitLab ID-token docs, and which claims AWS exposes as keys (mission-anchors §d2).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluate, explainDenial, parsePolicy, type Decision, type RequestContext } from '../src/policy/index.ts';

const ACCOUNT = '831955480324';
const PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/gitlab.com`;
const SELF_MANAGED = `arn:aws:iam::${ACCOUNT}:oidc-provider/gitlab.example.com`;
const WEB = 'sts:AssumeRoleWithWebIdentity';
const SUB_ANY_BRANCH = 'project_path:mygroup/myrepo:ref_type:branch:ref:*';

type Claims = Record<string, string>;

/** A push pipeline on a protected `master` of mygroup/myrepo on gitlab.com. */
const BASE: Claims = {
  iss: 'https://gitlab.com', aud: 'sts.amazonaws.com', sub: 'project_path:mygroup/myrepo:ref_type:branch:ref:master',
  project_path: 'mygroup/myrepo', project_id: '4242', namespace_path: 'mygroup', namespace_id: '1001',
  ref: 'master', ref_type: 'branch', ref_path: 'refs/heads/master', ref_protected: 'true',
  user_id: '42', user_login: 'alice', user_email: 'alice@example.com', user_access_level: 'maintainer',
  pipeline_id: '9001', pipeline_source: 'push', job_id: '77', runner_environment: 'gitlab-hosted',
};

/** Claims of a pipeline for another ref (and optionally project), keeping `sub` consistent with them. */
function pipeline(refType: 'branch' | 'tag', ref: string, extra: Claims = {}): Claims {
  const c: Claims = { ...BASE, ref, ref_type: refType, ref_path: `refs/${refType === 'tag' ? 'tags' : 'heads'}/${ref}`, ...extra };
  return { ...c, sub: extra['sub'] ?? `project_path:${c.project_path}:ref_type:${refType}:ref:${ref}` };
}

// Keys AWS STS sets for a web-identity token (mission-anchors §d2): `<issuer host>:aud` and
// `<issuer host>:sub` for any issuer, and these claims only for the gitlab.com identity provider.
const GITLAB_COM_ONLY = [
  'namespace_id', 'project_id', 'user_id', 'user_login', 'user_email', 'user_access_level',
  'ref_protected', 'pipeline_source', 'runner_environment',
];

function conditionKeys(claims: Claims): Record<string, string> {
  const host = new URL(claims['iss']!).host;
  const keys: Record<string, string> = { [`${host}:aud`]: claims['aud']!, [`${host}:sub`]: claims['sub']! };
  if (host !== 'gitlab.com') return keys;
  for (const claim of GITLAB_COM_ONLY) if (claims[claim] !== undefined) keys[`gitlab.com:${claim}`] = claims[claim]!;
  return keys;
}

interface Row {
  name: string;
  rule: string;
  /** Statements of the trust policy (Version 2012-10-17 is added). */
  statements: unknown[];
  claims?: Claims;
  action?: string;
  provider?: string;
  /** Global keys of the request, e.g. aws:CurrentTime. */
  extraKeys?: Record<string, string>;
  expect: Decision;
  /** Must appear in the denial explanation. */
  explain?: RegExp;
}

const allow = (condition?: unknown, extra: Record<string, unknown> = {}) => ({
  Effect: 'Allow', Principal: { Federated: PROVIDER }, Action: WEB, ...(condition ? { Condition: condition } : {}), ...extra,
});
const seedCondition = (more: Record<string, unknown> = {}) => ({
  StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com' },
  StringLike: { 'gitlab.com:sub': SUB_ANY_BRANCH },
  ...more,
});
/** The seed's trust policy: aud pinned with StringEquals, any branch of mygroup/myrepo with StringLike. */
const SEED = [allow(seedCondition())];
const selfManaged = (claims: Claims = {}) => ({
  ...BASE, iss: 'https://gitlab.example.com', project_id: '17', namespace_id: '3', ...claims,
});
const selfManagedAllow = (more: Record<string, unknown> = {}) => ({
  Effect: 'Allow', Principal: { Federated: SELF_MANAGED }, Action: WEB,
  Condition: { StringEquals: { 'gitlab.example.com:aud': 'sts.amazonaws.com' }, StringLike: { 'gitlab.example.com:sub': SUB_ANY_BRANCH }, ...more },
});
const deny = (condition: unknown) => ({ Effect: 'Deny', Principal: '*', Action: 'sts:*', Condition: condition });

const ROWS: Row[] = [
  { name: 'seed trust, push to master', rule: 'GitLab: branch pipelines have sub project_path:<path>:ref_type:branch:ref:<branch>; IAM StringLike * matches the rest', statements: SEED, expect: 'allow' },
  { name: 'seed trust, feature branch with a slash', rule: 'IAM StringLike: * matches any run of characters, including "/"', statements: SEED, claims: pipeline('branch', 'feature/login'), expect: 'allow' },
  { name: 'seed trust, tag pipeline', rule: 'GitLab: tag pipelines have sub …:ref_type:tag:ref:<tag>, which a ref_type:branch pattern does not match', statements: SEED, claims: pipeline('tag', 'v1.2.0'), expect: 'implicit-deny', explain: /ref_type:tag:ref:v1\.2\.0.*does not match/ },
  { name: 'seed trust, another project', rule: 'GitLab: sub starts with the project path, so another project cannot match', statements: SEED, claims: pipeline('branch', 'master', { project_path: 'other/repo' }), expect: 'implicit-deny', explain: /project_path:other\/repo/ },
  { name: 'seed trust, project whose name extends ours', rule: 'IAM StringLike: literal characters must match exactly; the pattern is anchored at both ends', statements: SEED, claims: pipeline('branch', 'master', { project_path: 'mygroup/myrepo-fork' }), expect: 'implicit-deny' },
  { name: 'seed trust, token minted for another audience', rule: 'IAM StringEquals: exact match; GitLab: aud is the id_tokens aud of the job', statements: SEED, claims: { ...BASE, aud: 'https://gitlab.com' }, expect: 'implicit-deny', explain: /gitlab\.com:aud is "https:\/\/gitlab\.com"/ },
  { name: 'seed trust, token from another OIDC provider', rule: 'IAM Principal: Federated must equal the provider ARN of the token issuer', statements: SEED, provider: SELF_MANAGED, expect: 'implicit-deny', explain: /Principal .*does not include the caller/ },
  { name: 'seed trust, request is sts:AssumeRole', rule: 'IAM Action: sts:AssumeRoleWithWebIdentity does not cover sts:AssumeRole', statements: SEED, action: 'sts:AssumeRole', expect: 'implicit-deny' },
  { name: 'policy lists sts:AssumeRole only', rule: 'IAM Action: sts:AssumeRole vs sts:AssumeRoleWithWebIdentity are different actions (whole-name match)', statements: [allow(seedCondition(), { Action: 'sts:AssumeRole' })], expect: 'implicit-deny', explain: /sts:AssumeRole is a different action/ },
  { name: 'policy lists sts:AssumeRole*', rule: 'IAM Action: * wildcard in action names', statements: [allow(seedCondition(), { Action: 'sts:AssumeRole*' })], expect: 'allow' },
  { name: 'action written in other letter case', rule: 'IAM Action: action names are case-insensitive', statements: [allow(seedCondition(), { Action: 'STS:assumerolewithwebidentity' })], expect: 'allow' },
  { name: 'NotAction sts:AssumeRole', rule: 'IAM NotAction: matches every action except those listed', statements: [allow(seedCondition(), { Action: undefined, NotAction: 'sts:AssumeRole' })], expect: 'allow' },
  { name: 'StringEquals with a * in sub', rule: 'IAM condition operators: StringEquals does not expand wildcards', statements: [allow({ StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com', 'gitlab.com:sub': SUB_ANY_BRANCH } })], expect: 'implicit-deny', explain: /StringEquals compares literally: the value contains '\*'/ },
  { name: 'StringEquals pinning master', rule: 'IAM StringEquals: exact, case-sensitive match', statements: [allow({ StringEquals: { 'gitlab.com:sub': BASE['sub'] } })], expect: 'allow' },
  { name: 'StringEquals with main or master', rule: 'IAM: multiple values for a key are evaluated with logical OR', statements: [allow({ StringEquals: { 'gitlab.com:sub': ['project_path:mygroup/myrepo:ref_type:branch:ref:main', BASE['sub']] } })], expect: 'allow' },
  { name: 'StringLike with a branch pattern or a v* tag pattern, tag pipeline', rule: 'IAM: multiple values for a key are OR-ed; GitLab: tag sub …:ref_type:tag:ref:<tag>', statements: [allow({ StringLike: { 'gitlab.com:sub': ['project_path:mygroup/myrepo:ref_type:branch:ref:main', 'project_path:mygroup/myrepo:ref_type:tag:ref:v*'] } })], claims: pipeline('tag', 'v1.2.0'), expect: 'allow' },
  { name: 'condition key written GitLab.com:SUB', rule: 'IAM: condition keys case-insensitive, values case-sensitive (key part)', statements: [allow({ StringLike: { 'GitLab.com:SUB': SUB_ANY_BRANCH } })], expect: 'allow' },
  { name: 'sub value written with MyGroup/MyRepo', rule: 'IAM: condition keys case-insensitive, values case-sensitive (value part)', statements: [allow({ StringEquals: { 'gitlab.com:sub': 'project_path:MyGroup/MyRepo:ref_type:branch:ref:master' } })], expect: 'implicit-deny', explain: /letter case/ },
  { name: 'StringEqualsIgnoreCase with MyGroup/MyRepo', rule: 'IAM StringEqualsIgnoreCase: exact match ignoring case', statements: [allow({ StringEqualsIgnoreCase: { 'gitlab.com:sub': 'project_path:MyGroup/MyRepo:ref_type:branch:ref:master' } })], expect: 'allow' },
  { name: 'StringLike ref:maste?', rule: 'IAM StringLike: ? matches exactly one character', statements: [allow({ StringLike: { 'gitlab.com:sub': 'project_path:mygroup/myrepo:ref_type:branch:ref:maste?' } })], expect: 'allow' },
  { name: 'StringLike ref:mast?', rule: 'IAM StringLike: ? matches exactly one character, not two', statements: [allow({ StringLike: { 'gitlab.com:sub': 'project_path:mygroup/myrepo:ref_type:branch:ref:mast?' } })], expect: 'implicit-deny' },
  { name: 'aud and sub=main in one StringEquals block, master pipeline', rule: 'IAM: multiple keys in one condition operator are evaluated with logical AND', statements: [allow({ StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com', 'gitlab.com:sub': 'project_path:mygroup/myrepo:ref_type:branch:ref:main' } })], expect: 'implicit-deny' },
  { name: 'seed plus ref_protected, unprotected branch', rule: 'IAM: multiple condition operators are evaluated with logical AND; GitLab: ref_protected is "true"/"false"', statements: [allow(seedCondition({ StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com', 'gitlab.com:ref_protected': 'true' } }))], claims: pipeline('branch', 'wip', { ref_protected: 'false' }), expect: 'implicit-deny', explain: /ref_protected is "false"/ },
  { name: 'sub, project_id and namespace_id pinned (GitLab recommended)', rule: 'GitLab: namespace_id and project_id are gitlab.com condition keys; AND of all keys', statements: [allow({ StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com', 'gitlab.com:sub': BASE['sub'], 'gitlab.com:project_id': '4242', 'gitlab.com:namespace_id': '1001' } })], expect: 'allow' },
  { name: 'path reclaimed by a new project', rule: 'GitLab: project_id survives renames; a project reusing a deleted path has another project_id', statements: [allow({ StringEquals: { 'gitlab.com:sub': BASE['sub'], 'gitlab.com:project_id': '4242' } })], claims: { ...BASE, project_id: '99999' }, expect: 'implicit-deny', explain: /project_id is "99999"/ },
  { name: 'self-managed issuer, host-prefixed sub and aud', rule: 'GitLab/AWS: keys are <issuer host>:sub and <issuer host>:aud for any issuer', statements: [selfManagedAllow()], claims: selfManaged(), provider: SELF_MANAGED, expect: 'allow' },
  { name: 'self-managed issuer, project_id condition', rule: 'GitLab: on self-managed only sub (and aud) are AWS keys; IAM: a missing key never matches', statements: [selfManagedAllow({ StringEquals: { 'gitlab.example.com:aud': 'sts.amazonaws.com', 'gitlab.example.com:project_id': '17' } })], claims: selfManaged(), provider: SELF_MANAGED, expect: 'implicit-deny', explain: /project_id is not in the request/ },
  { name: 'gitlab.com:ref condition', rule: 'GitLab/AWS: ref is not an AWS condition key (encode it through sub); IAM: a missing key never matches', statements: [allow(seedCondition({ StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com', 'gitlab.com:ref': 'master' } }))], expect: 'implicit-deny', explain: /gitlab\.com:ref is not in the request/ },
  { name: 'StringEqualsIfExists on an absent key', rule: 'IAM: ...IfExists true when key absent', statements: [allow(seedCondition({ StringEqualsIfExists: { 'gitlab.com:ref': 'main' } }))], expect: 'allow' },
  { name: 'StringEqualsIfExists on a present key that differs', rule: 'IAM: ...IfExists evaluates normally when the key is present', statements: [allow(seedCondition({ StringEqualsIfExists: { 'gitlab.com:ref_protected': 'true' } }))], claims: { ...BASE, ref_protected: 'false' }, expect: 'implicit-deny' },
  { name: 'StringNotEquals on an absent key', rule: 'IAM: a negated operator (StringNotEquals) is true when the key is absent', statements: [allow(seedCondition({ StringNotEquals: { 'gitlab.com:environment': 'production' } }))], expect: 'allow' },
  { name: 'StringNotLike feature/* on a feature branch', rule: 'IAM StringNotLike: false when the value matches a pattern', statements: [allow(seedCondition({ StringNotLike: { 'gitlab.com:sub': '*:ref_type:branch:ref:feature/*' } }))], claims: pipeline('branch', 'feature/login'), expect: 'implicit-deny', explain: /StringNotLike requires that it match none/ },
  { name: 'StringNotLike feature/* on master', rule: 'IAM StringNotLike: true when the value matches no pattern', statements: [allow(seedCondition({ StringNotLike: { 'gitlab.com:sub': '*:ref_type:branch:ref:feature/*' } }))], expect: 'allow' },
  { name: 'StringNotEquals schedule/trigger, trigger pipeline', rule: 'IAM: a negated operator with several values is a NOR; GitLab: pipeline_source is a gitlab.com key', statements: [allow(seedCondition({ StringNotEquals: { 'gitlab.com:pipeline_source': ['schedule', 'trigger'] } }))], claims: { ...BASE, pipeline_source: 'trigger' }, expect: 'implicit-deny' },
  { name: 'StringNotEquals schedule/trigger, push pipeline', rule: 'IAM: a negated operator with several values is a NOR', statements: [allow(seedCondition({ StringNotEquals: { 'gitlab.com:pipeline_source': ['schedule', 'trigger'] } }))], expect: 'allow' },
  { name: 'Null false on gitlab.com:project_id', rule: 'IAM Null: "false" requires the key to be present; gitlab.com provides project_id', statements: [allow(seedCondition({ Null: { 'gitlab.com:project_id': 'false' } }))], expect: 'allow' },
  { name: 'Null false on a self-managed project_id', rule: 'IAM Null: "false" fails when the key is absent; GitLab: only sub on self-managed', statements: [selfManagedAllow({ Null: { 'gitlab.example.com:project_id': 'false' } })], claims: selfManaged(), provider: SELF_MANAGED, expect: 'implicit-deny' },
  { name: 'Null true on a key AWS does not set', rule: 'IAM Null: "true" requires the key to be absent', statements: [allow(seedCondition({ Null: { 'gitlab.com:environment': 'true' } }))], expect: 'allow' },
  { name: 'Bool ref_protected true, protected branch', rule: 'IAM Bool: compares "true"/"false"; GitLab: ref_protected is the string "true"', statements: [allow(seedCondition({ Bool: { 'gitlab.com:ref_protected': 'true' } }))], expect: 'allow' },
  { name: 'Bool ref_protected true (JSON boolean), unprotected branch', rule: 'IAM Bool: "false" is not true', statements: [allow(seedCondition({ Bool: { 'gitlab.com:ref_protected': true } }))], claims: pipeline('branch', 'wip', { ref_protected: 'false' }), expect: 'implicit-deny' },
  { name: 'Deny unprotected refs, unprotected branch', rule: 'IAM: explicit Deny overrides Allow', statements: [...SEED, deny({ StringEquals: { 'gitlab.com:ref_protected': 'false' } })], claims: pipeline('branch', 'wip', { ref_protected: 'false' }), expect: 'explicit-deny', explain: /explicitly denies sts:AssumeRoleWithWebIdentity/ },
  { name: 'Deny unprotected refs, protected branch', rule: 'IAM: a Deny whose condition fails does not apply; the Allow stands', statements: [...SEED, deny({ StringEquals: { 'gitlab.com:ref_protected': 'false' } })], expect: 'allow' },
  { name: 'Deny unless project_id, self-managed token', rule: 'IAM: StringNotEquals is true on an absent key, so the Deny applies', statements: [selfManagedAllow(), deny({ StringNotEquals: { 'gitlab.example.com:project_id': '17' } })], claims: selfManaged(), provider: SELF_MANAGED, expect: 'explicit-deny' },
  { name: 'Deny unless project_id, right project on gitlab.com', rule: 'IAM StringNotEquals: false when the value is listed, so the Deny does not apply', statements: [...SEED, deny({ StringNotEquals: { 'gitlab.com:project_id': '4242' } })], expect: 'allow' },
  { name: 'ForAllValues on a key the token lacks', rule: 'IAM: ForAllValues with empty set is true', statements: [allow(seedCondition({ 'ForAllValues:StringEquals': { 'gitlab.com:groups_direct': ['mygroup'] } }))], expect: 'allow' },
  { name: 'ForAnyValue on a key the token lacks', rule: 'IAM: ForAnyValue with an absent key is false', statements: [allow(seedCondition({ 'ForAnyValue:StringEquals': { 'gitlab.com:groups_direct': ['mygroup'] } }))], expect: 'implicit-deny' },
  { name: 'Principal "*" with the seed conditions', rule: 'IAM Principal: "*" matches every principal; the conditions still apply', statements: [{ ...allow(seedCondition()), Principal: '*' }], expect: 'allow' },
  { name: 'two Allow statements, the second for our project', rule: 'IAM: any applicable Allow allows', statements: [allow({ StringLike: { 'gitlab.com:sub': 'project_path:other/*' } }), allow(seedCondition())], expect: 'allow' },
  { name: 'no Condition at all', rule: 'IAM: a statement without Condition applies to every matching request (any gitlab.com job!)', statements: [allow()], claims: pipeline('branch', 'master', { project_path: 'stranger/repo', project_id: '1' }), expect: 'allow' },
  { name: 'NumericEquals on project_id given as a JSON number', rule: 'IAM Numeric operators compare numbers; JSON numbers are condition values', statements: [allow(seedCondition({ NumericEquals: { 'gitlab.com:project_id': 4242 } }))], expect: 'allow' },
  { name: 'mygroup/* admits subgroup projects', rule: 'IAM StringLike: * crosses "/", so project_path:mygroup/* also matches mygroup/sub/app', statements: [allow({ StringLike: { 'gitlab.com:sub': 'project_path:mygroup/*:ref_type:branch:ref:master' } })], claims: pipeline('branch', 'master', { project_path: 'mygroup/sub/app' }), expect: 'allow' },
  { name: 'project_id-first sub against a project_path pattern', rule: 'GitLab: ci_id_token_sub_claim_components changes the sub format to project_id:<id>:…', statements: SEED, claims: { ...BASE, sub: 'project_id:4242:ref_type:branch:ref:master' }, expect: 'implicit-deny' },
  { name: 'project_id-first sub against a project_id pattern', rule: 'GitLab: sub project_id:<id>:ref_type:<type>:ref:<ref>', statements: [allow({ StringLike: { 'gitlab.com:sub': 'project_id:4242:ref_type:branch:ref:*' } })], claims: { ...BASE, sub: 'project_id:4242:ref_type:branch:ref:master' }, expect: 'allow' },
  { name: 'user_login pinned to someone else', rule: 'GitLab: user_login is a gitlab.com key (user-changeable); StringEquals exact', statements: [allow(seedCondition({ StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com', 'gitlab.com:user_login': 'bob' } }))], expect: 'implicit-deny' },
  { name: 'runner_environment gitlab-hosted, self-hosted runner', rule: 'AWS SAR: gitlab.com:runner_environment key; StringEquals exact', statements: [allow(seedCondition({ StringEquals: { 'gitlab.com:aud': 'sts.amazonaws.com', 'gitlab.com:runner_environment': 'gitlab-hosted' } }))], claims: { ...BASE, runner_environment: 'self-hosted' }, expect: 'implicit-deny' },
  { name: 'DateLessThan aws:CurrentTime, before the cut-off', rule: 'IAM Date operators: ISO 8601 comparison with aws:CurrentTime', statements: [allow(seedCondition({ DateLessThan: { 'aws:CurrentTime': '2099-01-01T00:00:00Z' } }))], extraKeys: { 'aws:CurrentTime': '2026-03-01T12:00:00Z' }, expect: 'allow' },
  { name: 'DateGreaterThan aws:CurrentTime, before the start', rule: 'IAM Date operators: DateGreaterThan false for an earlier time', statements: [allow(seedCondition({ DateGreaterThan: { 'aws:CurrentTime': '2099-01-01T00:00:00Z' } }))], extraKeys: { 'aws:CurrentTime': '2026-03-01T12:00:00Z' }, expect: 'implicit-deny' },
];

function request(row: Row): RequestContext {
  return {
    action: row.action ?? WEB,
    principal: { federated: row.provider ?? PROVIDER },
    keys: { ...conditionKeys(row.claims ?? BASE), ...row.extraKeys },
  };
}

describe('trust policy table', () => {
  test('has at least 35 cases, each naming its rule', () => {
    assert.ok(ROWS.length >= 35, `${ROWS.length} rows`);
    for (const row of ROWS) assert.ok(row.rule.length > 10, row.name);
    assert.equal(new Set(ROWS.map((r) => r.name)).size, ROWS.length, 'row names are unique');
  });

  test('the request keys follow mission-anchors §d2', () => {
    const keys = conditionKeys(BASE);
    assert.equal(keys['gitlab.com:sub'], 'project_path:mygroup/myrepo:ref_type:branch:ref:master');
    assert.equal(keys['gitlab.com:ref'], undefined);
    assert.deepEqual(Object.keys(conditionKeys(selfManaged())).sort(), ['gitlab.example.com:aud', 'gitlab.example.com:sub']);
  });

  for (const row of ROWS) {
    test(`${row.name} → ${row.expect} [${row.rule}]`, () => {
      const policy = parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: row.statements }), `trust policy (${row.name})`, 'trust');
      const ev = evaluate([policy], request(row));
      const why = explainDenial(ev);
      assert.equal(ev.decision, row.expect, why.join('\n'));
      if (row.expect === 'allow') assert.deepEqual(why, []);
      else assert.ok(why.length > 0, 'a refusal is explained');
      if (row.explain) assert.match(why.join('\n'), row.explain);
    });
  }
});
