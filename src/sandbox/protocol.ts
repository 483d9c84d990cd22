// What every AWS API handler in the sandbox shares: the call it receives, the reply it gives,
// and faults with AWS's codes. Rendering to XML (Query) or JSON 1.1 happens in one place.

import type { Throttle } from './throttle.ts';
import type { World } from './state.ts';
import type { Session } from './world.ts';

export type Service = 'sts' | 'iam' | 'ecr';

/** An AWS error as AWS names it: code, HTTP status, and the Query protocol's fault type. */
export class AwsFault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly type: 'Sender' | 'Receiver' = 'Sender',
  ) {
    super(message);
  }
}

/**
 * A SigV4 request refused because the STS session that signed it has expired (ExpiredToken /
 * ExpiredTokenException): the request log marks it, so a test can tell expiry from other refusals.
 */
export class ExpiredCredentialsFault extends AwsFault {}

export interface AwsCall {
  service: Service;
  action: string;
  /** Query protocol parameters (STS, IAM); empty for JSON calls. */
  params: URLSearchParams;
  /** JSON 1.1 body (ECR); undefined for Query calls. */
  input: Record<string, unknown> | undefined;
  /** The verified caller; undefined only for unsigned calls (AssumeRoleWithWebIdentity). */
  caller: Session | undefined;
  requestId: string;
}

export interface AwsReply {
  status: number;
  contentType: string;
  body: string;
}

export interface RequestLogEntry {
  time: string;
  requestId?: string;
  kind: 'aws' | 'registry' | 'oidc' | 'control';
  service?: string;
  action?: string;
  method?: string;
  /** Path without query string: repository names and digests, never credentials. */
  path?: string;
  principal?: string;
  status: number;
  error?: string;
  /**
   * The request was refused because its credentials had expired: STS credentials past their
   * Expiration (SigV4), or an ECR registry token past its expiresAt. Absent otherwise.
   */
  expired?: true;
  bytesIn?: number;
  bytesOut?: number;
  ms: number;
}

export interface SandboxContext {
  world: World;
  /** Base URL clients reach the sandbox at, e.g. http://127.0.0.1:4566. */
  publicUrl: string;
  /** host:port of the registry, as ECR's proxyEndpoint names it. */
  registryHost: string;
  log(entry: RequestLogEntry): void;
  /** ECR's rate quotas (throttle.ts), when the sandbox enforces them. */
  throttle?: Throttle;
  /**
   * Caps the lifetime of the credentials STS issues (and so of the ECR tokens obtained with
   * them) at this many seconds, so tests can expire them mid-job (`--credential-seconds`).
   */
  credentialSeconds?: number;
}

export type AwsHandler = (ctx: SandboxContext, call: AwsCall) => Promise<AwsReply>;

// ---- Query protocol (STS, IAM): XML -------------------------------------------------

export const XMLNS: Record<'sts' | 'iam', string> = {
  sts: 'https://sts.amazonaws.com/doc/2011-06-15/',
  iam: 'https://iam.amazonaws.com/doc/2010-05-08/',
};

export function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** A value tree rendered as Query-protocol XML: arrays become `<member>` lists. */
export type XmlValue = string | number | boolean | undefined | XmlValue[] | { [k: string]: XmlValue };

export function toXml(value: XmlValue): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return value.map((v) => `<member>${toXml(v)}</member>`).join('');
  if (typeof value === 'object') {
    return Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `<${k}>${toXml(v)}</${k}>`)
      .join('');
  }
  return xmlEscape(String(value));
}

export function queryReply(service: 'sts' | 'iam', action: string, result: XmlValue, requestId: string): AwsReply {
  const inner = result === undefined ? '' : `<${action}Result>${toXml(result)}</${action}Result>`;
  return {
    status: 200,
    contentType: 'text/xml',
    body: `<${action}Response xmlns="${XMLNS[service]}">${inner}` +
      `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
  };
}

export function queryFault(service: 'sts' | 'iam', fault: AwsFault, requestId: string): AwsReply {
  return {
    status: fault.status,
    contentType: 'text/xml',
    body: `<ErrorResponse xmlns="${XMLNS[service]}"><Error><Type>${fault.type}</Type>` +
      `<Code>${xmlEscape(fault.code)}</Code><Message>${xmlEscape(fault.message)}</Message></Error>` +
      `<RequestId>${requestId}</RequestId></ErrorResponse>`,
  };
}

// ---- JSON 1.1 (ECR) ------------------------------------------------------------------

export function jsonReply(value: unknown): AwsReply {
  return { status: 200, contentType: 'application/x-amz-json-1.1', body: JSON.stringify(value) };
}

export function jsonFault(fault: AwsFault): AwsReply {
  return {
    status: fault.status,
    contentType: 'application/x-amz-json-1.1',
    body: JSON.stringify({ __type: fault.code, message: fault.message }),
  };
}

/** ECR and IAM timestamps: ECR's JSON sends epoch seconds as numbers (with fractions). */
export const epochSeconds = (ms: number): number => ms / 1000;
export const isoTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
