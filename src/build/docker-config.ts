// The job's private DOCKER_CONFIG (mission-anchors pain point 8: flaky `docker login` state,
// credsStore/keychain collisions, helpers that "can't store"). A fresh 0700 temp dir per job:
//   - config.json starts without auths and without credsStore, so nothing from the host's
//     ~/.docker takes part, and is removed by dispose() with the password it holds;
//   - every registry hoist talks to is pinned to the file store with `credHelpers: {host: ""}`.
//     Without the pin, a docker CLI on Linux picks a default helper by itself when
//     docker-credential-secretservice (or pass) is on PATH (cli/config/credentials
//     DetectDefaultStore), and a helper that cannot store fails `docker login` with
//     "error storing credentials … not implemented" (amazon-ecr-login #147);
//   - the user's contexts, currentContext and proxies still apply (they are not credentials).

import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type DockerEnv, userConfigDir } from './docker-args.ts';

interface ConfigJson {
  auths?: Record<string, { auth?: string }>;
  credHelpers?: Record<string, string>;
  currentContext?: string;
  proxies?: unknown;
}

/** The non-credential settings of the user's config.json worth keeping. */
function inherited(userDir: string | undefined): ConfigJson {
  if (!userDir) return {};
  try {
    const doc = JSON.parse(readFileSync(join(userDir, 'config.json'), 'utf8')) as ConfigJson;
    return {
      ...(typeof doc.currentContext === 'string' ? { currentContext: doc.currentContext } : {}),
      ...(doc.proxies !== undefined ? { proxies: doc.proxies } : {}),
    };
  } catch {
    return {};
  }
}

export class DockerConfigDir {
  #disposed = false;

  private constructor(readonly path: string) {}

  /** Create the dir (0700) and its config.json (0600). */
  static async create(userEnv: Readonly<DockerEnv>, parent?: string): Promise<DockerConfigDir> {
    const dir = await mkdtemp(join(parent ?? userEnv.TMPDIR ?? tmpdir(), 'hoist-docker-'));
    const cfg = new DockerConfigDir(dir); // mkdtemp creates the dir with mode 0700
    const userDir = userConfigDir(userEnv);
    if (userDir && existsSync(join(userDir, 'contexts'))) symlinkSync(join(userDir, 'contexts'), join(dir, 'contexts'));
    await cfg.#write({ auths: {}, credHelpers: {}, ...inherited(userDir) });
    return cfg;
  }

  get file(): string {
    return join(this.path, 'config.json');
  }

  async #read(): Promise<ConfigJson> {
    return JSON.parse(await readFile(this.file, 'utf8')) as ConfigJson;
  }

  async #write(doc: ConfigJson): Promise<void> {
    await writeFile(this.file, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
  }

  /** Make docker use the plain file store (this dir) for `host`, whatever helpers exist. */
  async pinFileStore(hosts: readonly string[]): Promise<void> {
    const doc = await this.#read();
    const helpers = doc.credHelpers ?? {};
    const missing = hosts.filter((h) => !(h in helpers));
    if (missing.length === 0) return;
    for (const h of missing) helpers[h] = '';
    await this.#write({ ...doc, credHelpers: helpers });
  }

  /** Did `docker login` really store credentials for `host`? (No entry = later "no basic auth credentials".) */
  async hasAuth(host: string): Promise<boolean> {
    const auth = (await this.#read()).auths?.[host]?.auth;
    return typeof auth === 'string' && auth.length > 0;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Remove the dir and the credentials in it. Idempotent. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    await rm(this.path, { recursive: true, force: true });
  }
}
