// `hoist login`: an ECR login other tools can use. Either a Docker config.json entry (merged
// into the config in DOCKER_CONFIG, written atomically with mode 0600), a `credHelpers`
// entry that makes docker ask `docker-credential-hoist` for a fresh token on every call, or
// the bare password for piping into `docker login --password-stdin`.

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RegistryLogin } from '../aws/ecr.ts';
import { HoistError } from '../errors.ts';
import { writeFileAtomic } from '../fs/atomic.ts';

interface DockerConfigJson {
  auths?: Record<string, { auth?: string }>;
  credHelpers?: Record<string, string>;
  [k: string]: unknown;
}

async function readDockerConfig(file: string): Promise<DockerConfigJson> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  try {
    return JSON.parse(text) as DockerConfigJson;
  } catch {
    throw new HoistError(`${file} is not valid JSON`, { code: 'config.invalid', hint: 'Fix or remove the file; hoist does not overwrite a config it cannot read.' });
  }
}

async function writeDockerConfig(dir: string, update: (c: DockerConfigJson) => void): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'config.json');
  const config = await readDockerConfig(file);
  update(config);
  await writeFileAtomic(file, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  return file;
}

/** A static login, valid until the ECR token expires (12 h at most, less with STS credentials). */
export function storeLogin(dir: string, login: RegistryLogin): Promise<string> {
  const auth = Buffer.from(`${login.username}:${login.password.reveal()}`).toString('base64');
  return writeDockerConfig(dir, (c) => {
    c.auths = { ...c.auths, [login.registry]: { auth } };
    if (c.credHelpers?.[login.registry]) delete c.credHelpers[login.registry];
  });
}

/** Docker asks `docker-credential-hoist get` for every pull and push: never an expired token. */
export function storeHelper(dir: string, registry: string): Promise<string> {
  return writeDockerConfig(dir, (c) => {
    c.credHelpers = { ...c.credHelpers, [registry]: 'hoist' };
    // A stale static entry would win over the helper (amazon-ecr-credential-helper README).
    if (c.auths?.[registry]) delete c.auths[registry];
  });
}

/** docker-credential-helpers protocol: `get` answers {ServerURL, Username, Secret}. */
export function helperAnswer(serverUrl: string, login: RegistryLogin): string {
  return JSON.stringify({ ServerURL: serverUrl, Username: login.username, Secret: login.password.reveal() });
}
