// The ECR repository: its name, and the settings used when hoist creates it
// (ECR CreateRepository: imageTagMutability, imageScanningConfiguration, encryptionConfiguration).

import { type RepositoryName, parseRepositoryName } from '../model/repository.ts';
import { collect } from '../model/value.ts';
import { type Resolver, bool, envSource, envValue, report, scalar } from './settings.ts';

export type TagMutability = 'MUTABLE' | 'IMMUTABLE';
/** ECR EncryptionConfiguration.encryptionType. */
export type EncryptionType = 'AES256' | 'KMS' | 'KMS_DSSE';

export interface RepositorySettings {
  name: RepositoryName;
  /** Create the repository when it is missing (the seed's describe || create); --no-create-repository. */
  create: boolean;
  /** Unset: ECR's default (MUTABLE). */
  tagMutability?: TagMutability;
  scanOnPush: boolean;
  /** Unset: ECR's default (AES256). */
  encryption?: { type: EncryptionType; kmsKey?: string };
}

export function resolveRepository(r: Resolver): RepositorySettings | undefined {
  const name = resolveName(r);
  const tagMutability = oneOf(r, 'tag-mutability', ['MUTABLE', 'IMMUTABLE'] as const);
  const encryption = resolveEncryption(r);
  const settings = { create: bool(r, 'create-repository', true), scanOnPush: bool(r, 'scan-on-push', false) };
  if (name === undefined) return undefined;
  return { name, ...settings, ...(tagMutability && { tagMutability }), ...(encryption && { encryption }) };
}

function resolveName(r: Resolver): RepositoryName | undefined {
  const raw = scalar(r, 'repository');
  if (raw !== undefined) return collect(parseRepositoryName(raw.value, raw.source), r.problems);
  // No default: create-if-missing would make a repository the IAM policy does not cover.
  const project = envValue(r.env, 'CI_PROJECT_PATH')?.toLowerCase();
  return report(r, {
    source: envSource('ECR_REPOSITORY'),
    message: 'ECR_REPOSITORY is not set (nor --repository, nor repository in hoist.yaml)',
    hint: `Set ECR_REPOSITORY to the repository name${project ? `, e.g. ${project}` : ' (e.g. order-microservice)'}.`,
  });
}

function oneOf<T extends string>(r: Resolver, key: 'tag-mutability' | 'encryption', allowed: readonly T[]): T | undefined {
  const raw = scalar(r, key);
  if (raw === undefined) return undefined;
  const upper = raw.value.toUpperCase();
  if ((allowed as readonly string[]).includes(upper)) return upper as T;
  return report(r, { source: raw.source, message: `${JSON.stringify(raw.value)} is not one of ${allowed.join(', ')}` });
}

/** --kms-key alone means KMS; with AES256 it is a contradiction ECR would reject. */
function resolveEncryption(r: Resolver): RepositorySettings['encryption'] {
  const type = oneOf(r, 'encryption', ['AES256', 'KMS', 'KMS_DSSE'] as const);
  const kmsKey = scalar(r, 'kms-key');
  if (kmsKey === undefined) return type && { type };
  if (type === 'AES256') {
    return report(r, { source: kmsKey.source, message: 'a KMS key needs KMS encryption, but the encryption is AES256', hint: 'Use --encryption KMS with --kms-key, or drop --kms-key.' });
  }
  return { type: type ?? 'KMS', kmsKey: kmsKey.value };
}
