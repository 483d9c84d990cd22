// Why STS refused a web-identity token, said in terms of the token and the trust policy.
// The largest cluster of complaints in this field is a bare "Not authorized to perform
// sts:AssumeRoleWithWebIdentity" (mission-anchors, pain points 1-3): hoist shows what AWS
// saw in the token (never the token itself) and which policy element to check.

import { audiences } from '../model/jwt.ts';

export interface StsDiagnosis {
  message: string;
  hint: string;
  /** Claims AWS evaluated, safe to print. */
  saw: Record<string, string>;
}

const SHOWN_CLAIMS = ['iss', 'aud', 'sub', 'project_path', 'ref_type', 'ref', 'ref_protected', 'namespace_id', 'project_id'];

export function claimsSeen(claims: Record<string, unknown>): Record<string, string> {
  const saw: Record<string, string> = {};
  for (const k of SHOWN_CLAIMS) {
    const v = k === 'aud' ? audiences(claims).join(',') : claims[k];
    if (v !== undefined && v !== '') saw[k] = String(v);
  }
  const exp = claims.exp;
  if (typeof exp === 'number') saw.exp = new Date(exp * 1000).toISOString();
  return saw;
}

export function diagnoseSts(awsName: string, awsMessage: string, claims: Record<string, unknown>, roleArn: string): StsDiagnosis {
  const saw = claimsSeen(claims);
  const host = (saw.iss ?? '').replace(/^https:\/\//, '').replace(/\/+$/, '');
  const account = /^arn:[^:]+:iam::(\d{12}):/.exec(roleArn)?.[1] ?? '<account>';
  const seen = Object.entries(saw).map(([k, v]) => `${k}=${v}`).join(', ');
  const d = (message: string, hint: string): StsDiagnosis => ({ message: `${message} AWS saw: ${seen}.`, hint, saw });
  if (/AccessDenied/.test(awsName)) {
    const pattern = `project_path:${saw.project_path ?? '<group>/<project>'}:ref_type:${saw.ref_type ?? 'branch'}:ref:*`;
    const tagNote = saw.ref_type === 'tag' ? ' This is a tag pipeline: a policy scoped to ref_type:branch does not admit it.' : '';
    return d(`AWS refused to let this job's ID token assume ${roleArn} (AccessDenied).`, [
      `Check the trust policy of ${roleArn}.`,
      `Principal.Federated must be arn:aws:iam::${account}:oidc-provider/${host}.`,
      `Condition "${host}:aud" must equal "${saw.aud ?? 'sts.amazonaws.com'}".`,
      `Condition "${host}:sub" must match "${saw.sub ?? ''}", e.g. StringLike "${pattern}".${tagNote}`,
      'StringEquals never expands "*": use StringLike for patterns. `hoist doctor` evaluates the policy and names the failing condition.',
    ].join(' '));
  }
  if (/Expired/.test(awsName)) {
    return d('The job\'s ID token has expired.', 'GitLab ID tokens expire with the job timeout (5 minutes when none is set): re-run the job, and exchange the token early in it.');
  }
  if (/audience/i.test(awsMessage)) {
    return d('STS rejected the token\'s audience.', `The IAM OIDC provider for ${host} must list the token's aud "${saw.aud ?? ''}" as a client ID; in .gitlab-ci.yml use id_tokens: AWS_ID_TOKEN: aud: sts.amazonaws.com.`);
  }
  if (/No OpenIDConnect provider/i.test(awsMessage)) {
    return d(`Account ${account} has no IAM OIDC provider for ${saw.iss ?? 'the token issuer'}.`, `Create one: aws iam create-open-id-connect-provider --url ${saw.iss ?? 'https://gitlab.com'} --client-id-list sts.amazonaws.com (or run hoist bootstrap).`);
  }
  if (/verification key/i.test(awsMessage)) {
    return d('STS could not fetch the issuer\'s signing keys.', `STS must reach ${saw.iss ?? 'the issuer'}/.well-known/openid-configuration and its JWKS over the internet; a private GitLab instance is not reachable. This is retried when transient.`);
  }
  return d(`STS rejected the web-identity token (${awsName}: ${awsMessage}).`, 'Check that the job passes the ID token from id_tokens: (aud sts.amazonaws.com) and that the role ARN is right.');
}
