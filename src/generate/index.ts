// `hoist init`'s generators (tier 2): pure functions from a validated InitSpec to file contents.

import { component, gitlabCi } from './gitlab-ci.ts';
import { permissionsPolicy, policyText, trustPolicy } from './policies.ts';
import { type InitSpec } from './spec.ts';
import { terraform } from './terraform.ts';

export interface GeneratedFile {
  /** Relative to the project directory, `/`-separated. */
  path: string;
  content: string;
  description: string;
}

export function initFiles(s: InitSpec): GeneratedFile[] {
  return [
    { path: '.gitlab-ci.yml', content: gitlabCi(s), description: 'pipeline that runs hoist push' },
    { path: 'templates/hoist-push.yml', content: component(s), description: 'GitLab CI/CD component' },
    { path: 'iam/trust-policy.json', content: policyText(trustPolicy(s)), description: 'role trust policy' },
    { path: 'iam/permissions-policy.json', content: policyText(permissionsPolicy(s)), description: 'least-privilege ECR policy' },
    { path: 'iam/main.tf', content: terraform(s), description: 'Terraform for provider, role, policy, repository' },
  ];
}

export { unifiedDiff } from './diff.ts';
export { branchRule, component, DOTENV, gitlabCi, pushCommandLine } from './gitlab-ci.ts';
export { permissionsPolicy, policyText, PUSH_PULL_ACTIONS, samePolicy, subjects, trustPolicy, type PolicyJson } from './policies.ts';
export {
  BUILDERS, DEFAULTS, issuerHost, missingRequired, parseInitSpec, providerArnOf, repositoryArnOf, REQUIRED, roleArnOf,
  type BuilderChoice, type InitInput, type InitSpec,
} from './spec.ts';
export { terraform } from './terraform.ts';
