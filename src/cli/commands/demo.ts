import { rehearse } from '../../api/rehearse.ts';
import { parse, str } from '../args.ts';
import type { Command } from '../io.ts';

const HELP = `Usage: hoist demo [--example DIR] [--tag TAG] [--json]

Rehearses hoist's whole job end to end with nothing but Node: no Docker, no AWS, no network.
An in-process sandbox stands in for AWS; its admin publishes a small base image; a
GitLab-style ID token is minted; then the real \`hoist push --builder native\` runs on the
example service (default examples/order-service): STS AssumeRoleWithWebIdentity, ECR login,
repository creation, a daemonless build (base layers mounted, not downloaded), push, and
verification. Finally the manifest is read back, and the image URI, digest and what each
step cost are printed.
`;

export const demoCommand: Command = {
  name: 'demo',
  summary: 'rehearse the whole job against an in-process sandbox (no Docker, no AWS)',
  help: HELP,
  async run(argv, io) {
    const p = parse('demo', argv, { example: { type: 'string' }, tag: { type: 'string' }, json: { type: 'boolean' } });
    if (p.values.help) return io.stdout(HELP), 0;
    const json = p.values.json === true;
    const report = await rehearse({
      example: str(p, 'example') ?? 'examples/order-service',
      ...(str(p, 'tag') ? { tag: str(p, 'tag') } : {}),
      onStep: (s) => json || io.stderr(`✔ ${s.step.padEnd(16)} ${String(s.ms).padStart(5)} ms  ${s.detail}\n`),
    });
    if (json) {
      io.stdout(JSON.stringify(report, null, 2) + '\n');
      return 0;
    }
    const total = report.steps.reduce((a, s) => a + s.ms, 0);
    io.stdout([
      `image    ${report.imageUri}`,
      `digest   ${report.digest} (${report.manifestMediaType}, ${report.layers} layers; blobs: ${report.push.layers.pushed} uploaded, ${report.push.layers.mounted} mounted from the base, ${report.push.layers.existing} already there)`,
      `total    ${total} ms`,
      '',
    ].join('\n'));
    return 0;
  },
};
