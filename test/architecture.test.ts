// Enforces DESIGN §2: a module imports only from lower tiers, siblings never import each
// other, and only src/cli touches the process.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { test } from 'node:test';

const SRC = resolve(import.meta.dirname, '..', 'src');

// errors.ts and log.ts sit just beneath model/ inside tier 0: every module, model/ included,
// reports through them, and they import nothing.
const TIERS: Record<string, number> = {
  'errors.ts': -1, 'log.ts': -1, model: 0,
  // fs/ (atomic file replacement) imports nothing of ours; every tier that writes files uses it.
  fs: 0,
  image: 1, http: 1, exec: 1, policy: 1,
  registry: 2, aws: 2, ci: 2, build: 2, generate: 2, doctor: 2, config: 2, sandbox: 2,
  api: 3,
  cli: 4,
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The top-level module a file belongs to: its first folder under src/, or the file itself. */
function moduleOf(file: string): string {
  return relative(SRC, file).split('/')[0]!;
}

function imports(source: string): string[] {
  const re = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  return [...source.matchAll(re)].map((m) => (m[1] ?? m[2])!).filter((s) => s.startsWith('.'));
}

test('every src module belongs to a tier', () => {
  const unknown = [...new Set(files(SRC).map(moduleOf))].filter((m) => !(m in TIERS));
  assert.deepEqual(unknown, [], `modules missing from the tier table: ${unknown.join(', ')}`);
});

test('imports point only to lower tiers (or inside the same module)', () => {
  const violations: string[] = [];
  for (const file of files(SRC)) {
    const from = moduleOf(file);
    for (const spec of imports(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), spec);
      const to = moduleOf(target);
      if (to === from) continue;
      if (!(TIERS[to]! < TIERS[from]!)) {
        violations.push(`${relative(SRC, file)} (tier ${TIERS[from]}) imports ${spec} (${to}, tier ${TIERS[to]})`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

test('only src/cli touches the process, the console or exit codes', () => {
  const offenders = files(SRC)
    .filter((f) => moduleOf(f) !== 'cli')
    .flatMap((f) => {
      const lines = readFileSync(f, 'utf8').split('\n');
      return lines.flatMap((line, i) =>
        /\b(process\.(exit|stdout|stderr|stdin|argv|on|env)\b|console\.)/.test(line) ? [`${relative(SRC, f)}:${i + 1}: ${line.trim()}`] : []);
    });
  assert.deepEqual(offenders, []);
});

test('the import scanner sees imports (guards against a checker that passes vacuously)', () => {
  const seen = files(SRC).flatMap((f) => imports(readFileSync(f, 'utf8')));
  assert.ok(seen.length > 20, `only ${seen.length} relative imports found`);
  assert.deepEqual(imports(`import { a } from '../x.ts';\nexport { b } from './y.ts';\nconst c = await import('./z.ts');`), ['../x.ts', './y.ts', './z.ts']);
});
