import { join } from 'node:path';
import { buildImage } from '../../api/build.ts';
import { parseSourceDateEpoch } from '../../build/native.ts';
import { list, parse, str } from '../args.ts';
import type { Command } from '../io.ts';
import { usageError } from '../render.ts';

const HELP = `Usage: hoist build --output oci:DIR[:TAG] [--builder native] [flags]

Build an image with the daemonless native builder and write it as an OCI image layout, with
no push and no Docker engine. Dockerfiles without RUN (FROM, COPY, ADD of local files, ENV,
ARG, WORKDIR, USER, EXPOSE, LABEL, CMD, ENTRYPOINT, HEALTHCHECK, STOPSIGNAL, VOLUME, SHELL,
ONBUILD, multi-stage COPY --from) are assembled into layers directly; a RUN is an error that
names its line. The result is reproducible: the same inputs give the same digest
(SOURCE_DATE_EPOCH sets the timestamps; without it a fixed epoch is used).

  --output oci:DIR[:TAG]  where to write the layout (TAG default latest)
  --builder native        the only builder that writes a layout (docker builds go to the engine)
  --context DIR           build context (default .)
  -f, --file PATH         Dockerfile (default <context>/Dockerfile)
  --build-arg K=V         (repeatable)   --label K=V (repeatable)
  --target STAGE          --platform OS/ARCH (default linux/amd64)

FROM oci:DIR[:TAG] reads a base from a layout; FROM <registry image> reads its manifest and
config through hoist's registry client (layers are kept by reference, never downloaded).
Then push the layout with: hoist copy oci:DIR:TAG docker://REGISTRY/REPO:TAG
`;

export const buildCommand: Command = {
  name: 'build',
  summary: 'build with the daemonless native builder into an OCI layout (no push)',
  help: HELP,
  async run(argv, io) {
    const p = parse('build', argv, {
      output: { type: 'string' }, builder: { type: 'string' }, context: { type: 'string' }, file: { type: 'string', short: 'f' },
      'build-arg': { type: 'string', multiple: true }, label: { type: 'string', multiple: true }, target: { type: 'string' }, platform: { type: 'string' },
    });
    if (p.values.help) return io.stdout(HELP), 0;
    const builder = str(p, 'builder') ?? 'native';
    if (builder !== 'native') throw usageError(`build: --builder ${builder} cannot write an OCI layout`, 'Use --builder native, or hoist push --builder docker to build in a Docker engine.');
    const output = /^oci:([^:]+)(?::([\w][\w.-]{0,127}))?$/.exec(str(p, 'output') ?? '');
    if (!output) throw usageError('build: --output oci:DIR[:TAG] is required', 'For example --output oci:build/image:latest');
    const context = str(p, 'context') ?? '.';
    const epoch = io.env.SOURCE_DATE_EPOCH;
    const r = await buildImage({
      context, dockerfile: str(p, 'file') ?? join(context, 'Dockerfile'), outputDir: output[1]!, tags: [output[2] ?? 'latest'],
      buildArgs: pairs(list(p, 'build-arg'), '--build-arg'), labels: pairs(list(p, 'label'), '--label'),
      ...(str(p, 'target') ? { target: str(p, 'target') } : {}), ...(str(p, 'platform') ? { platform: str(p, 'platform') } : {}),
      ...(epoch ? { sourceDateEpoch: parseSourceDateEpoch(epoch) } : {}),
    });
    io.stdout(`oci:${r.outputDir}:${output[2] ?? 'latest'}@${r.manifestDigest}\n`);
    io.stderr(`hoist build: ${r.totalSteps} steps in ${r.durationMs} ms${r.referencedOnly ? `, ${r.referencedOnly} base layer(s) referenced, not stored` : ''}\n`);
    return 0;
  },
};

function pairs(items: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw usageError(`build: ${flag} "${item}" is not KEY=VALUE`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}
