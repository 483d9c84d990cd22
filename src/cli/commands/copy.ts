import { COMPRESSORS } from '../../api/compressor.ts';
import { copy, type CopyOutcome, defaultCacheDir } from '../../api/copy.ts';
import { exec } from '../../exec/index.ts';
import type { BlobEvent } from '../../image/copy.ts';
import { parseTransport } from '../../registry/transports.ts';
import { int, oneOf, parse, str } from '../args.ts';
import { AWS_OPTIONS } from '../aws-flags.ts';
import type { Command, Io } from '../io.ts';
import { ECR_HELP, REGISTRY_HELP, REGISTRY_OPTIONS, credentialsFrom, ecrCredentialsFor, transportOptions, wantsEcr } from '../registry-flags.ts';
import { usageError } from '../render.ts';
import type { Parsed } from '../args.ts';
import type { RegistryCredentials } from '../../registry/auth.ts';

const HELP = `Usage: hoist copy SRC DST [flags]

Copy an image with hoist's own registry client: every blob is HEADed first and skipped when
present, mounted when it lives in another repository of the same registry, uploaded 5 at a
time otherwise; compressed layers are copied as they are; docker save layers are gzipped on
the fly (level 1) and hashed as they stream. Re-running an unchanged copy sends only HEADs.

Image names (as skopeo spells them):
  docker://HOST/REPO[:TAG|@DIGEST]  a registry
  oci:DIR[:TAG]                     an OCI image layout (read and write)
  docker-archive:FILE[:NAME:TAG]    a docker save archive (read)
  docker-daemon:IMAGE               a Docker engine's image, as docker save exports it (read):
                                    from the engine's socket directly (DOCKER_HOST unset,
                                    unix://, or tcp:// without TLS such as the seed's DinD
                                    tcp://docker:2375; no docker CLI needed), else through the
                                    docker CLI (TLS, ssh://, contexts, an HTTP_PROXY); each layer
                                    is uploaded as soon as it is compressed, and layers the
                                    engine keeps gzipped
                                    (containerd image store, Docker 29's default) go through
                                    untouched

Credentials (never printed; prefer the -env forms, argv is visible to other users):
  --src-creds-env VAR    VAR holds USER:PASSWORD for the source registry
  --dest-creds-env VAR   VAR holds USER:PASSWORD for the destination registry
  --src-creds U:P  --dest-creds U:P   the same, from argv (discouraged)

Transfer:
  --jobs N               blob transfers in flight (default 5)
  --compression-level N  gzip level for layers hoist compresses (1..9, default 1)
  --compressor C         who compresses them: auto (default: igzip when on PATH and the level
                         is 1..3, else Node's zlib), zlib, or igzip (ISA-L, ~3x faster per core;
                         Debian/Ubuntu package isal)
  --cache-dir DIR        digest cache (default $XDG_CACHE_HOME/hoist or ~/.cache/hoist)
  --no-cache             do not read or write the digest cache

${REGISTRY_HELP}
${ECR_HELP}
Output: DST@sha256:... on stdout; --json for the whole report; progress on stderr (--quiet).
Exit codes: 0 copied (or already there), 1 the copy failed, 2 bad flags.
`;

const OPTIONS = {
  ...AWS_OPTIONS, ...REGISTRY_OPTIONS, ecr: { type: 'boolean' },
  'src-creds': { type: 'string' }, 'src-creds-env': { type: 'string' }, 'dest-creds': { type: 'string' }, 'dest-creds-env': { type: 'string' },
  jobs: { type: 'string' }, 'compression-level': { type: 'string' }, compressor: { type: 'string' }, 'cache-dir': { type: 'string' }, 'no-cache': { type: 'boolean' },
} as const;

function cacheDir(p: Parsed, io: Io): string | undefined {
  if (p.values['no-cache']) return undefined;
  return str(p, 'cache-dir') ?? defaultCacheDir(io.env);
}

/** Explicit credentials first; else ECR mode for whichever side is on the ECR login's registry. */
async function credentials(p: Parsed, io: Io, src: string, dst: string): Promise<{ srcCredentials?: RegistryCredentials; dstCredentials?: RegistryCredentials }> {
  const s = credentialsFrom(p, io, 'src-creds');
  const d = credentialsFrom(p, io, 'dest-creds');
  const dstSpec = parseTransport(dst);
  if (!d && dstSpec.kind === 'docker' && wantsEcr(p, io)) {
    const ecr = await ecrCredentialsFor(p, io, dstSpec.host, 'copy');
    const srcSpec = parseTransport(src);
    const same = srcSpec.kind === 'docker' && srcSpec.host === dstSpec.host;
    return { ...(s ? { srcCredentials: s } : same ? { srcCredentials: ecr } : {}), dstCredentials: ecr };
  }
  return { ...(s ? { srcCredentials: s } : {}), ...(d ? { dstCredentials: d } : {}) };
}

function progressLine(io: Io, quiet: boolean): ((e: BlobEvent) => void) | undefined {
  if (quiet) return undefined;
  return (e) => io.stderr(`  ${e.outcome.padEnd(10)} ${e.digest.slice(0, 19)}  ${(e.size / 1e6).toFixed(1)} MB\n`);
}

function report(o: CopyOutcome): string {
  return `${o.destination}@${o.digest}\n`;
}

export const copyCommand: Command = {
  name: 'copy',
  summary: 'copy an image between registries, OCI layouts, docker archives and the engine (native client)',
  help: HELP,
  async run(argv, io) {
    const p = parse('copy', argv, OPTIONS, true);
    if (p.values.help) return io.stdout(HELP), 0;
    if (p.positionals.length !== 2) throw usageError('copy: expected SRC and DST', 'Run `hoist copy --help` for the image names it takes.');
    const [src, dst] = p.positionals as [string, string];
    const json = p.values.json === true;
    const dir = cacheDir(p, io);
    const outcome = await copy({
      src, dst, ...(await credentials(p, io, src, dst)), ...(await transportOptions(p)),
      ...(int(p, 'jobs', [1, 64]) ? { jobs: int(p, 'jobs', [1, 64])! } : {}),
      ...(str(p, 'compression-level') ? { compressionLevel: int(p, 'compression-level', [0, 9])! } : {}),
      ...(str(p, 'compressor') ? { compressor: oneOf(p, 'compressor', COMPRESSORS) } : {}),
      ...(dir ? { cacheDir: dir } : {}),
      run: exec, env: io.env, signal: io.signal,
      ...(progressLine(io, p.values.quiet === true || json) ? { onBlob: progressLine(io, p.values.quiet === true || json)! } : {}),
    });
    if (!json && p.values.quiet !== true) {
      const s = outcome.stats;
      io.stderr(`hoist copy: ${s.uploaded} uploaded, ${s.compressed} compressed${s.compressed ? ` (${outcome.compressor})` : ''}, ${s.mounted} mounted, ${s.present} already there; manifest ${outcome.manifest} (${(outcome.durationMs / 1000).toFixed(2)} s)\n`);
    }
    io.stdout(json ? JSON.stringify(outcome, null, 2) + '\n' : report(outcome));
    return 0;
  },
};
