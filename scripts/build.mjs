// Bundles the CLI into ESM so `npx hoist --version` starts without resolving hundreds of
// modules (the AWS SDK alone is ~300 files). The AWS SDK, imported only on first use
// (src/aws/clients.ts), goes into its own chunks under dist/chunks: a command that never talks
// to AWS does not even parse its 1.6 MB.
import { build } from 'esbuild';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
rmSync('dist/chunks', { recursive: true, force: true });
await build({
  entryPoints: { hoist: 'src/cli/main.ts' },
  outdir: 'dist',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
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

// docker-credential-hoist: Docker runs `docker-credential-<name> get`; hand it to hoist.
writeFileSync('dist/docker-credential-hoist.js', [
  '#!/usr/bin/env node',
  "process.argv.splice(2, 0, 'credential-helper');",
  "await import('./hoist.js');",
  '',
].join('\n'));
chmodSync('dist/docker-credential-hoist.js', 0o755);
