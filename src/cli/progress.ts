// Progress lines on stderr. Inside GitLab CI each step is a collapsible section
// (GitLab docs, "Custom collapsible sections": \e[0Ksection_start:<epoch>:<name>\r\e[0K<header>).

import type { StepEvent } from '../api/push.ts';
import type { Io } from './io.ts';

const TITLES: Record<StepEvent['step'], string> = {
  engine: 'Check the build engine',
  'assume-role': 'Assume the IAM role with the job\'s ID token',
  'ecr-login': 'Log in to Amazon ECR',
  repository: 'Ensure the ECR repository',
  build: 'Build the image',
  push: 'Push',
  verify: 'Verify what ECR stored',
};

export function progress(io: Io, quiet: boolean): (e: StepEvent) => void {
  const gitlab = io.env.GITLAB_CI === 'true';
  return (e) => {
    if (quiet) return;
    const epoch = Math.floor(Date.now() / 1000);
    const name = `hoist_${e.step.replace(/-/g, '_')}`;
    if (e.phase === 'start') {
      if (gitlab) io.stderr(`\x1b[0Ksection_start:${epoch}:${name}[collapsed=true]\r\x1b[0K${TITLES[e.step]}\n`);
      return;
    }
    io.stderr(`✔ ${e.step.padEnd(12)} ${String(e.ms ?? 0).padStart(6)} ms  ${e.detail ?? ''}\n`);
    if (gitlab) io.stderr(`\x1b[0Ksection_end:${epoch}:${name}\r\x1b[0K`);
  };
}
