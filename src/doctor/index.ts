// `hoist doctor` (tier 2): the seed's "Quick sanity checklist" and "Troubleshooting" as pure
// checks, and a security review of the role's policies. src/api/doctor.ts gathers the facts.

export * from './check.ts';
export { checkConfig, checkProvider, checkRepository, failedWith, isTokenProblem, type OidcProviderFact } from './account.ts';
export { offlineDoctor, parsePolicyFile, type OfflineInput, type PolicyFile } from './offline.ts';
export { checkPermissions, requiredActions, verdictsFromPolicies, type ActionVerdict, type ActionVerdicts } from './permissions.ts';
export { renderChecklist } from './report.ts';
export { reviewCheck, reviewPermissions, reviewTrust, type Finding, type FindingId } from './review.ts';
export { checkToken, claimEvidence, type TokenVerdict } from './token.ts';
export { checkTrust, type TrustInput } from './trust.ts';
