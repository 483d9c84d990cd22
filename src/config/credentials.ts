// `hoist credentials` and `hoist login` need only the AWS half of the configuration: the
// same settings, sources and checks as `hoist push`, without repository, tags or build.

import { assertNoProblems } from '../errors.ts';
import type { IdTokenSource } from '../model/id-token.ts';
import { type AwsSettings, resolveAws } from './aws.ts';
import { readConfigFile } from './file.ts';
import { resolveIdToken } from './id-token.ts';
import { type Env, FILE_KEYS, type PushFlags, type Resolver } from './settings.ts';

export type AwsFlags = Pick<PushFlags, 'region' | 'account' | 'roleArn' | 'endpointUrl' | 'registry' | 'idTokenVar' | 'sessionName' | 'duration'>;

export interface AwsConfig {
  aws: AwsSettings;
  idToken: IdTokenSource;
  sources: Record<string, string>;
}

export function resolveAwsConfig(input: { env: Env; flags: AwsFlags; file?: { path: string; text: string }; now?: Date }, what: string): AwsConfig {
  const file = input.file ? readConfigFile(input.file.path, input.file.text, FILE_KEYS) : { entries: new Map(), problems: [] };
  const r: Resolver = { env: input.env, flags: input.flags, file, problems: [...file.problems], sources: {} };
  const aws = resolveAws(r, input.now ?? new Date());
  const idToken = resolveIdToken(r, aws?.partition);
  assertNoProblems(r.problems, `${what} configuration`);
  return { aws: aws!, idToken: idToken!, sources: r.sources };
}
