// The human checklist: ✔ pass, ✖ fail (with the fix under it), ! warning, - skipped.

import type { Check } from './check.ts';

const MARK = { pass: '✔', fail: '✖', warn: '!', skip: '-' } as const;

export function renderChecklist(checks: readonly Check[]): string {
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${MARK[c.status]} ${c.title}${c.status === 'skip' ? ' (skipped)' : ''}`);
    for (const e of c.evidence) lines.push(`    ${e}`);
    if (c.fix && c.status !== 'pass') lines.push(...c.fix.split('\n').map((l, i) => `    ${i === 0 ? 'fix: ' : '     '}${l}`));
  }
  const count = (s: Check['status']) => checks.filter((c) => c.status === s).length;
  lines.push('', `${count('pass')} passed, ${count('fail')} failed, ${count('warn')} warnings, ${count('skip')} skipped`);
  return lines.join('\n') + '\n';
}
