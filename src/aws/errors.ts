// Turns AWS SDK errors into HoistErrors: one code per diagnosis, retryable only when
// transient (DESIGN §6; mission-anchors pain point 3: retries that hide misconfiguration).

import { HoistError } from '../errors.ts';

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

export function wrapAwsError(err: unknown, op: string, code: string, hint?: string): HoistError {
  const e = err as SdkError;
  const name = awsErrorName(err);
  const status = e?.$metadata?.httpStatusCode;
  return new HoistError(`${op} failed: ${name}: ${e?.message ?? String(err)}`, {
    code,
    op,
    ...(hint ? { hint } : {}),
    retryable: isTransient(err),
    context: { awsError: name, ...(status ? { httpStatus: status } : {}) },
    cause: err,
  });
}
