// Bundles the CLI into one ESM file so `npx hoist --version` starts without resolving
// hundreds of modules (the AWS SDK alone is ~300 files).
import { build } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/hoist.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  logLevel: 'warning',
  define: { HOIST_VERSION: JSON.stringify(pkg.version) },
  banner: {
    js: [
      '#!/usr/bin/env node',
      // CommonJS dependencies inside an ESM bundle still call require().
      "import { createRequire as __hoistRequire } from 'node:module';",
      'const require = __hoistRequire(import.meta.url);',
    ].join('\n'),
  },
});
chmodSync('dist/hoist.js', 0o755);
