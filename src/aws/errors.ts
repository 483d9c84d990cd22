// Turns AWS SDK errors into HoistErrors: one code per diagnosis, retryable only when
// transient (DESIGN §6; mission-anchors pain point 3: retries that hide misconfiguration).

import { HoistError } from '../errors.ts';
import { attemptsMade } from '../http/retry.ts';

interface SdkError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  code?: string;
}

const TRANSIENT_NAMES = new Set([
  'Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded',
  'IDPCommunicationError', 'ServiceUnavailable', 'InternalFailure', 'InternalError', 'RequestTimeout',
]);
const TRANSIENT_NET = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

export function awsErrorName(err: unknown): string {
  const e = err as SdkError;
  return e?.name ?? 'Error';
}

export function isTransient(err: unknown): boolean {
  const e = err as SdkError;
  const status = e?.$metadata?.httpStatusCode ?? 0;
  if (TRANSIENT_NAMES.has(awsErrorName(err)) || status >= 500 || status === 429) return true;
  // STS says this when it cannot fetch the issuer's JWKS: worth another try (CAC #299, #348).
  if (/Couldn't retrieve verification key/i.test(e?.message ?? '')) return true;
  return TRANSIENT_NET.has(e?.code ?? '') || TRANSIENT_NET.has(awsErrorName(err));
}

/** The SDK could not parse the answer: a proxy or load balancer answered instead of AWS (HTML, plain text). */
function notAnAwsAnswer(e: SdkError): boolean {
  return awsErrorName(e) === 'SyntaxError' || /Deserialization error/i.test(e?.message ?? '');
}

/**
 * `endpoint` names where the call went (host), so a failure says which server kept failing.
 * A transient failure (after hoist's retries) names its HTTP status and the attempts made, and
 * its hint is about retrying: the caller's hint (usually a missing permission) would mislead.
 */
export function wrapAwsError(err: unknown, op: string, code: string, hint?: string, endpoint?: string): HoistError {
  const down = unreachableError(err, op, endpoint);
  if (down) return down;
  const e = err as SdkError;
  const name = awsErrorName(err);
  const status = e?.$metadata?.httpStatusCode;
  const transient = isTransient(err);
  const attempts = attemptsMade(err);
  const what = notAnAwsAnswer(e) && status
    ? `HTTP ${status} with a body that is not an AWS answer (a proxy or load balancer in the way?)`
    : `${name}: ${e?.message ?? String(err)}${transient && status ? ` (HTTP ${status})` : ''}`;
  const who = endpoint ?? 'AWS';
  const advice = transient
    ? `${attempts ? `${who} kept failing (${attempts} attempts with backoff)` : `${who} failed transiently`}: re-run the job; if it persists, check the AWS service health and any proxy between the runner and AWS.`
    : hint;
  return new HoistError(`${op} failed${endpoint ? ` at ${endpoint}` : ''}: ${what}${attempts ? ` (gave up after ${attempts} attempts)` : ''}`, {
    code,
    op,
    ...(advice ? { hint: advice } : {}),
    retryable: transient,
    context: { awsError: name, ...(status ? { httpStatus: status } : {}), ...(endpoint ? { endpoint } : {}), ...(attempts ? { attempts } : {}) },
    cause: err,
  });
}

/** No HTTP answer at all, so nothing AWS said: why the connection failed. */
const UNREACHABLE = new Map([
  ['ECONNREFUSED', 'nothing accepted the connection'],
  ['ENOTFOUND', 'the host name does not resolve'],
  ['EAI_AGAIN', 'DNS did not answer'],
  ['EHOSTUNREACH', 'no route to the host'],
  ['ENETUNREACH', 'the network is unreachable'],
]);

/**
 * A call that never reached a server gets its own code (`aws.unreachable`): the caller's code
 * and hint are about what AWS answers (a refused token, a missing permission) and would send
 * the user to the wrong place. It names the endpoint the connection was for.
 */
function unreachableError(err: unknown, op: string, endpoint: string | undefined): HoistError | undefined {
  const e = err as SdkError & { address?: string; port?: number; hostname?: string };
  const errno = e?.code ?? '';
  const why = UNREACHABLE.get(errno);
  if (!why) return undefined;
  const where = endpoint ?? (e.address ? `${e.address}${e.port ? `:${e.port}` : ''}` : e.hostname ?? 'the AWS endpoint');
  const attempts = attemptsMade(err);
  return new HoistError(`${op} failed: cannot reach ${where}: ${why} (${errno})${attempts ? ` (gave up after ${attempts} attempts)` : ''}`, {
    code: 'aws.unreachable', op, retryable: isTransient(err), cause: err,
    hint: `If AWS_ENDPOINT_URL is set (e.g. a local \`hoist sandbox\`), check that it names the right host and port and that the ` +
      'service is running there; otherwise check this runner\'s network path to AWS (DNS, proxy, firewall).',
    context: { endpoint: where, errno, ...(attempts ? { attempts } : {}) },
  });
}
