// IAM policy documents and their evaluation (tier 1): used by the sandbox to decide STS and
// ECR requests, and by `hoist doctor` to explain which condition refused a request.

export {
  parsePolicy,
  parsePolicyValue,
  type ConditionEntry,
  type Effect,
  type PolicyDocument,
  type PolicyKind,
  type PolicyVersion,
  type Principal,
  type PrincipalMap,
  type Statement,
} from './document.ts';
export {
  evaluateCondition,
  lookupKey,
  parseOperator,
  type ConditionResult,
  type ParsedOperator,
  type SetQualifier,
} from './conditions.ts';
export {
  evaluate,
  evaluateStatement,
  explainDenial,
  principalMatches,
  type Decision,
  type Evaluation,
  type RequestContext,
  type RequestPrincipal,
  type StatementResult,
} from './evaluate.ts';
export { arnMatch, globMatch } from './match.ts';
