// hoist's own side of `hoist push`, for every builder that pushes through hoist's registry client
// (native, and the docker builder's hoist pusher): the logins the job gave it, and the copy of
// one image to each of its refs.

import type { PushedRef, RegistryCredential } from '../build/builder.ts';
import { HoistError } from '../errors.ts';
import { type CopyOptions, copyImage } from '../image/copy.ts';
import type { ImageSource } from '../image/source.ts';
import { parseReference } from '../model/reference.ts';
import type { RegistryCredentials } from '../registry/auth.ts';
import { RegistryClient } from '../registry/client.ts';
import { registrySink } from '../registry/transports.ts';

export class RegistryPush {
  readonly #creds = new Map<string, RegistryCredentials>();
  readonly client = new RegistryClient({ credentials: (host) => this.#creds.get(host) });

  login(cred: RegistryCredential): void {
    // The renewal goes along: the registry client renews an ECR token before it expires.
    this.#creds.set(cred.registry, { username: cred.username, password: cred.password, ...(cred.renewal ? { renewal: cred.renewal } : {}) });
  }

  /**
   * Copies an image to each of `refs` (registry/repository:tag), reading it from `sourceFor(ref)`:
   * one source may serve them all, and after the first ref the blobs are there and only HEADed.
   * Counts the layers sent, whether uploaded as they were or compressed first.
   */
  async toRefs(refs: readonly string[], sourceFor: (ref: string) => Promise<ImageSource>, opts: CopyOptions = {}): Promise<PushedRef[]> {
    const pushed: PushedRef[] = [];
    for (const ref of refs) {
      const t0 = performance.now();
      const parsed = parseReference(ref, 'push');
      if (!parsed.ok || !parsed.value.registry || !parsed.value.tag) throw new HoistError(`cannot push to ${ref}`, { code: 'build.push', op: 'push' });
      const { registry, repository, tag } = parsed.value;
      const r = await copyImage(await sourceFor(ref), registrySink(this.client.repository(registry, repository), ref), { ...opts, tag });
      pushed.push({
        ref, digest: r.digest, size: r.size, layersPushed: r.stats.uploaded + r.stats.compressed, layersExisting: r.stats.present,
        layersMounted: r.stats.mounted, durationMs: Math.round(performance.now() - t0),
      });
    }
    return pushed;
  }

  close(): void {
    this.#creds.clear();
    this.client.close();
  }
}
