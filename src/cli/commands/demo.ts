import { rehearse } from '../../api/rehearse.ts';
import { parse, str } from '../args.ts';
import type { Command } from '../io.ts';

const HELP = `Usage: hoist demo [--repository NAME] [--json]

Rehearses the seed pipeline's job end to end against an in-process sandbox, with nothing
but Node: mint a GitLab-style ID token, AssumeRoleWithWebIdentity, GetCallerIdentity,
ECR login (checked against the registry), and create the repository when missing.
Prints what each step did and what it cost.
`;

export const demoCommand: Command = {
  name: 'demo',
  summary: 'rehearse the whole job against an in-process sandbox (no Docker, no AWS)',
  help: HELP,
  async run(argv, io) {
    const p = parse('demo', argv, { repository: { type: 'string' }, json: { type: 'boolean' } });
    if (p.values.help) return io.stdout(HELP), 0;
    const json = p.values.json === true;
    const report = await rehearse({
      repository: str(p, 'repository'),
      pipelineId: io.env.CI_PIPELINE_ID,
      onStep: (s) => json || io.stderr(`✔ ${s.step.padEnd(16)} ${String(s.ms).padStart(5)} ms  ${s.detail}\n`),
    });
    if (json) io.stdout(JSON.stringify(report, null, 2) + '\n');
    else {
      const total = report.steps.reduce((a, s) => a + s.ms, 0);
      io.stdout(`repository ${report.repositoryUri} ready on registry ${report.registry} (${total} ms in all)\n`);
    }
    return 0;
  },
};
