// Runs the example service's own test suite (examples/order-service, plain `node --test`) so the
// repository's CI covers the image hoist ships in its demo.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';

const EXAMPLE = resolve(import.meta.dirname, '..', 'examples', 'order-service');

/** This process's environment minus what would change how the example's `node --test` runs. */
function exampleEnv(): NodeJS.ProcessEnv {
  // NODE_TEST_CONTEXT, set by the runner of this file, makes a nested `node --test` skip every
  // file and still exit 0; NODE_OPTIONS could load this repository's tsx into a dependency-free app.
  const { NODE_TEST_CONTEXT: _context, NODE_OPTIONS: _options, ...env } = process.env;
  return env;
}

test('the example order service passes its own tests', () => {
  const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', 'test/'], {
    cwd: EXAMPLE,
    encoding: 'utf8',
    timeout: 60_000,
    killSignal: 'SIGKILL',
    env: exampleEnv(),
  });
  const output = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.error, undefined, `could not run the example's tests: ${run.error?.message}`);
  assert.equal(run.status, 0, `the example's tests failed:\n${output}`);
  const count = (name: string) => Number(output.match(new RegExp(`^# ${name} (\\d+)$`, 'm'))?.[1] ?? NaN);
  assert.ok(count('pass') > 0, `no passing tests reported:\n${output}`);
  assert.equal(count('fail'), 0, output);
  assert.equal(count('pass'), count('tests'), output);
});

test('the example Dockerfile builds without RUN, as the native builder requires', () => {
  const dockerfile = readFileSync(resolve(EXAMPLE, 'Dockerfile'), 'utf8');
  assert.doesNotMatch(dockerfile, /^\s*RUN\b/im);
  assert.match(dockerfile, /^CMD \["node", "src\/server\.js"\]$/m);
  const pkg = JSON.parse(readFileSync(resolve(EXAMPLE, 'package.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(pkg.name, 'order-service');
  assert.equal(pkg.dependencies, undefined);
});
