// Checks a registry login the way `docker login` does: GET /v2/ with the credentials.

import { HoistError } from '../errors.ts';
import type { Secret } from '../model/secret.ts';

export interface BasicLogin {
  registry: string;
  username: string;
  password: Secret;
}

/** Docker treats loopback registries as plain HTTP; everything else is TLS. */
export function registryBaseUrl(registry: string): string {
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\./.test(host);
  return `${loopback ? 'http' : 'https'}://${registry}`;
}

export async function checkLogin(login: BasicLogin): Promise<void> {
  const auth = Buffer.from(`${login.username}:${login.password.reveal()}`).toString('base64');
  let res: Response;
  try {
    res = await fetch(`${registryBaseUrl(login.registry)}/v2/`, { headers: { authorization: `Basic ${auth}` } });
  } catch (err) {
    throw new HoistError(`cannot reach registry ${login.registry}`, { code: 'registry.unreachable', op: 'registry login', retryable: true, cause: err });
  }
  await res.body?.cancel();
  if (res.status === 401) {
    throw new HoistError(`registry ${login.registry} rejected the ECR login`, {
      code: 'registry.unauthorized', op: 'registry login',
      hint: 'The ECR token may have expired or belong to another account or region: get a fresh one for this registry.',
    });
  }
  if (!res.ok) {
    throw new HoistError(`registry ${login.registry} answered HTTP ${res.status} to /v2/`, { code: 'registry.failed', op: 'registry login', retryable: res.status >= 500 });
  }
}
