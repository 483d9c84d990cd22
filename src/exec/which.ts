// Finding a program on PATH without running it, for optional accelerators (igzip) that hoist
// uses when present and does without otherwise. execve does the real lookup when a program
// runs; this only answers "is there one", as `command -v` would.

import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** The absolute path `name` resolves to on `path` (a PATH value), or undefined. */
export function findOnPath(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    // An empty or relative PATH entry means the current directory: never trust it for a tool
    // hoist picks by itself.
    if (!dir || !isAbsolute(dir)) continue;
    const file = join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      continue;
    }
  }
  return undefined;
}
