// Turns docker CLI failures into HoistErrors that say what is wrong and how to fix it: the
// seed's "DinD connectivity issues" troubleshooting, automated (mission-anchors pain point 13,
// GitLab docker_build_troubleshooting.md). Pure: the caller passes the text docker printed and
// the facts it checked (does the socket exist?). Messages quote docker; never credentials.

import { HoistError } from '../errors.ts';
import type { ParsedBuild } from './docker-parse.ts';
import { lastLine } from './docker-parse.ts';

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

const DIND_SERVICE = 'services: [{ name: "docker:24.0-dind", command: ["--tls=false"] }]';
const TLS_OFF = 'set DOCKER_TLS_CERTDIR: "" and command ["--tls=false"] on the service with DOCKER_HOST: tcp://docker:2375';
const TLS_ON = 'use DOCKER_HOST: tcp://docker:2376 with DOCKER_TLS_VERIFY: "1" and DOCKER_CERT_PATH: /certs/client (DOCKER_TLS_CERTDIR: /certs)';
const PRIVILEGED = 'Some runners also require privileged: true ([runners.docker] privileged = true in config.toml) for the dind service';

export interface EngineContext {
  /** DOCKER_HOST as the job set it (undefined: docker's default socket). */
  dockerHost?: string;
  tlsVerify: boolean;
  certPath?: string;
  /** For unix endpoints: does the socket file exist? */
  socketExists?: boolean;
}

function endpointOf(ctx: EngineContext): string {
  return ctx.dockerHost || DEFAULT_DOCKER_HOST;
}

function hostnameOf(endpoint: string): string | undefined {
  const m = /^tcp:\/\/\[?([^\]/:]+)\]?(?::\d+)?/.exec(endpoint);
  return m?.[1];
}

function portOf(endpoint: string): string | undefined {
  return /:(\d+)\/?$/.exec(endpoint)?.[1];
}

function engineError(code: string, message: string, hint: string, ctx: EngineContext, retryable = false): HoistError {
  return new HoistError(message, {
    code,
    op: 'docker engine check',
    hint,
    retryable,
    context: { dockerHost: endpointOf(ctx), dockerHostSet: Boolean(ctx.dockerHost), tlsVerify: ctx.tlsVerify },
  });
}

/** Engine-level failures that mean the dind service runs unprivileged (mounts, overlay, cgroups). */
export function looksUnprivileged(text: string): boolean {
  return [
    /mount: permission denied \(are you root\?\)/i,
    /failed to mount overlay|error creating overlay mount|overlay[^\n]*operation not permitted/i,
    /mount[^\n]*operation not permitted|operation not permitted[^\n]*mount/i,
    /cgroup[^\n]*read-only file system/i,
    /iptables[^\n]*Permission denied \(you must be root\)/i,
  ].some((re) => re.test(text));
}

/** Errors worth retrying as-is: the network or the registry hiccuped, nothing is misconfigured. */
export function looksTransient(text: string): boolean {
  return /connection reset by peer|i\/o timeout|TLS handshake timeout|unexpected EOF|: EOF\b|502 Bad Gateway|503 Service Unavailable|504 Gateway|500 Internal Server Error|toomanyrequests|Rate exceeded|net\/http: request canceled/i.test(
    text,
  );
}

function tlsDiagnosis(text: string, ctx: EngineContext): HoistError | undefined {
  const ep = endpointOf(ctx);
  if (/server gave HTTP response to HTTPS client/i.test(text)) {
    return engineError('docker.tls-mismatch', `TLS mismatch: DOCKER_TLS_VERIFY is set but ${ep} answers plain HTTP`,
      `the engine listens without TLS (port 2375 convention): unset DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, or ${TLS_ON}`, ctx);
  }
  const plainToTls = /Client sent an HTTP request to an HTTPS server/i.test(text) || (!ctx.tlsVerify && /Get "http:\/\/[^"]+": EOF/.test(text));
  if (plainToTls) {
    return engineError('docker.tls-mismatch', `TLS mismatch: ${ep} expects TLS (port 2376 convention) but DOCKER_TLS_VERIFY is not set`,
      `either ${TLS_ON}, or turn TLS off: ${TLS_OFF}`, ctx);
  }
  if (/unable to resolve docker endpoint|could not read CA certificate|open [^\n]*(ca|cert|key)\.pem|(ca|cert|key)\.pem seems invalid/i.test(text)) {
    return engineError('docker.tls-certs', `DOCKER_TLS_VERIFY is set but the TLS client certificates are missing (${lastLine(text)})`,
      `put ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH (${ctx.certPath ?? 'unset: ~/.docker'}); with DinD share them: DOCKER_TLS_CERTDIR: /certs and DOCKER_CERT_PATH: /certs/client — or ${TLS_OFF}`, ctx);
  }
  return undefined;
}

function dnsDiagnosis(text: string, ctx: EngineContext): HoistError | undefined {
  if (!/no such host|lookup [^\n]*(server misbehaving|no such host)|Temporary failure in name resolution/i.test(text)) return undefined;
  const host = hostnameOf(endpointOf(ctx)) ?? endpointOf(ctx);
  const hint = host === 'docker'
    ? `the DinD service is missing: add ${DIND_SERVICE} to the job (and alias: docker when the service image name includes a registry host, since GitLab derives the hostname from it)`
    : `no service or host named ${host} is reachable from this job: check DOCKER_HOST or the service alias`;
  return engineError('docker.dns', `cannot resolve the Docker host ${host} (DOCKER_HOST=${endpointOf(ctx)})`, hint, ctx);
}

function unreachable(ctx: EngineContext): HoistError {
  const ep = endpointOf(ctx);
  if (ep.startsWith('unix://') && ctx.socketExists === false && !ctx.dockerHost) {
    return engineError('docker.no-engine', `no Docker engine: DOCKER_HOST is not set and there is no socket at ${ep.slice(7)}`,
      `in GitLab CI add ${DIND_SERVICE} with variables DOCKER_HOST: tcp://docker:2375 and DOCKER_TLS_CERTDIR: ""; on a shell runner start dockerd or mount /var/run/docker.sock`, ctx);
  }
  if (ep.startsWith('unix://')) {
    const why = ctx.socketExists === false ? `there is no socket at ${ep.slice(7)}` : 'dockerd is not running behind the socket';
    return engineError('docker.unreachable', `cannot connect to the Docker engine at ${ep}: ${why}`,
      'start dockerd, fix DOCKER_HOST, or use DinD over tcp', ctx, true);
  }
  const port = portOf(ep);
  const tlsHint = port === '2376' ? TLS_OFF : `${TLS_OFF}, or ${TLS_ON}`;
  return engineError('docker.unreachable', `cannot connect to the Docker engine at ${ep} (connection refused or daemon down)`,
    `the dind service is not up yet or listens with TLS on 2376: ${tlsHint}. ${PRIVILEGED}: a dind service without it exits at start ("mount: permission denied (are you root?)" in its log)`, ctx, true);
}

/** Why `docker version` failed: one HoistError with a distinct code per cause. */
export function diagnoseEngine(stderr: string, ctx: EngineContext): HoistError {
  const tls = tlsDiagnosis(stderr, ctx);
  if (tls) return tls;
  const dns = dnsDiagnosis(stderr, ctx);
  if (dns) return dns;
  if (/permission denied while trying to connect|connect: permission denied/i.test(stderr)) {
    const sock = endpointOf(ctx).replace(/^unix:\/\//, '');
    return engineError('docker.permission', `permission denied on the Docker socket ${sock}`,
      `the job user cannot open ${sock}: add it to the socket's group (usually docker), run the job as root, or use DinD over tcp`, ctx);
  }
  if (looksUnprivileged(stderr)) {
    return engineError('docker.privileged', `the Docker engine cannot mount its storage: ${lastLine(stderr)}`, `${PRIVILEGED}; or use a daemonless builder (buildah, native)`, ctx);
  }
  if (/Cannot connect to the Docker daemon|connection refused|Is the docker daemon running/i.test(stderr)) return unreachable(ctx);
  return engineError('docker.engine-error', `docker version failed against ${endpointOf(ctx)}: ${lastLine(stderr) || 'no output'}`,
    'run `docker version` in the job to see the full error', ctx, looksTransient(stderr));
}

// ---------------------------------------------------------------- build / push / login

function buildHint(text: string, pull: boolean): { code: string; hint: string; retryable?: boolean } {
  if (looksUnprivileged(text)) return { code: 'docker.privileged', hint: `${PRIVILEGED}; or use a daemonless builder (buildah, native)` };
  if (/toomanyrequests|pull rate limit/i.test(text)) {
    return { code: 'docker.rate-limited', hint: 'Docker Hub rate limit: log in to Docker Hub, use a registry mirror on the dind service, or move base images to ECR', retryable: true };
  }
  if (/BuildKit is enabled but the buildx component is missing/i.test(text)) {
    return { code: 'docker.buildkit-unavailable', hint: 'install the buildx plugin (docker-buildx) or let hoist fall back to the legacy builder (mode: auto)' };
  }
  if (/no space left on device/i.test(text)) return { code: 'docker.disk-full', hint: 'free space on the engine (docker system prune) or give the runner a bigger disk' };
  const baseFailed = /load metadata for|failed to resolve source metadata|pull access denied|registry-1\.docker\.io|manifest for [^\n]* not found|repository does not exist/i.test(text);
  if (baseFailed && pull) {
    return { code: 'docker.base-image', hint: '--pull fetches every FROM image from its registry: if the base image exists only in the local engine, build with pull: false; otherwise check the FROM reference and registry access' };
  }
  if (baseFailed) return { code: 'docker.base-image', hint: 'check the FROM reference and that the engine can reach (and is logged in to) its registry' };
  return { code: 'docker.build-failed', hint: 'the Dockerfile step above failed: see its output', retryable: looksTransient(text) };
}

export function diagnoseBuild(parsed: ParsedBuild, stderr: string, opts: { pull: boolean; endpoint: string }): HoistError {
  const text = `${stderr}\n${parsed.failure?.message ?? ''}`;
  const { code, hint, retryable } = buildHint(text, opts.pull);
  const step = parsed.failure?.step;
  const detail = parsed.failure?.message ?? (lastLine(stderr) || 'no output');
  return new HoistError(`docker build failed${step ? ` at ${step}` : ''}: ${detail}`, {
    code,
    op: 'docker build',
    hint,
    retryable: retryable ?? false,
    context: { dockerHost: opts.endpoint, builder: parsed.format, ...(step ? { step } : {}) },
  });
}

interface Rule {
  re: RegExp;
  code: string;
  hint: string;
}

function firstRule(text: string, rules: readonly Rule[]): Rule | undefined {
  return rules.find((r) => r.re.test(text));
}

const PUSH_RULES: readonly Rule[] = [
  { re: /no basic auth credentials|authentication required|unauthorized/i, code: 'docker.push-unauthorized',
    hint: 'log in to the registry first (ECR passwords expire after 12 hours: log in again right before pushing)' },
  { re: /name unknown|repository [^\n]*(not found|does not exist)/i, code: 'docker.repository-missing',
    hint: 'create the repository first (ECR does not create repositories on push)' },
  { re: /tag invalid|immutable/i, code: 'docker.tag-immutable',
    hint: 'the repository has immutable tags and this tag already exists: push a new tag, or skip when the digest is the same' },
  { re: /denied/i, code: 'docker.push-denied',
    hint: 'these credentials may not push here: the role needs ecr:InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload, PutImage and BatchCheckLayerAvailability on the repository' },
  { re: /does not exist locally|No such image/i, code: 'docker.image-missing', hint: 'build (or tag) the image before pushing' },
];

/** `docker push` failed: stdout matters too, it carries per-layer errors such as "no basic auth credentials". */
export function diagnosePush(ref: string, stderr: string, stdout = ''): HoistError {
  const rule = firstRule(`${stdout}\n${stderr}`, PUSH_RULES);
  return new HoistError(`docker push ${ref} failed: ${lastLine(stderr) || lastLine(stdout) || 'no output'}`, {
    code: rule?.code ?? 'docker.push-failed',
    op: 'docker push',
    hint: rule?.hint ?? 'see docker\'s message; transient network errors are retried',
    retryable: !rule && looksTransient(stderr),
    context: { ref },
  });
}

const LOGIN_RULES: readonly Rule[] = [
  { re: /401 Unauthorized|unauthorized|incorrect username or password|denied/i, code: 'docker.login-unauthorized',
    hint: 'the registry rejected the credentials: an ECR password is valid for its own account and region only, and expires after 12 hours' },
  { re: /error storing credentials|Error saving credentials/i, code: 'docker.login-credstore',
    hint: 'a Docker credential helper could not store the password (hoist pins the file store for the registries it logs in to; check credHelpers)' },
  { re: /non TTY|interactive login/i, code: 'docker.login-tty',
    hint: 'docker asked for a password on a terminal: the password must go on stdin with --password-stdin' },
];

export function diagnoseLogin(registry: string, stderr: string): HoistError {
  const rule = firstRule(stderr, LOGIN_RULES);
  return new HoistError(`docker login ${registry} failed: ${lastLine(stderr) || 'no output'}`, {
    code: rule?.code ?? 'docker.login-failed',
    op: 'docker login',
    hint: rule?.hint ?? `check that the engine can reach ${registry}`,
    retryable: !rule && (looksTransient(stderr) || /connection refused/i.test(stderr)),
    context: { registry },
  });
}
