// `hoist init`: generate the pipeline, the component, the IAM policies and Terraform, and
// write them without ever clobbering a user's edits (a differing file is skipped with a diff
// unless `force`).

import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { HoistError } from '../errors.ts';
import { initFiles, parseInitSpec, unifiedDiff, type GeneratedFile, type InitInput, type InitSpec } from '../generate/index.ts';
import { writeFileAtomic } from '../fs/atomic.ts';

export type FileStatus = 'created' | 'unchanged' | 'overwritten' | 'skipped';

export interface FileResult {
  path: string;
  description: string;
  status: FileStatus;
  /** For a skipped or overwritten file: what changes (unified diff, current → generated). */
  diff?: string;
}

export interface InitOutcome {
  spec: InitSpec;
  dir: string;
  files: FileResult[];
}

export interface InitOptions {
  dir: string;
  force?: boolean;
}

export async function init(input: InitInput, opts: InitOptions): Promise<InitOutcome> {
  const spec = parseInitSpec(input);
  const files: FileResult[] = [];
  for (const file of initFiles(spec)) files.push(await place(opts.dir, file, opts.force === true));
  return { spec, dir: opts.dir, files };
}

async function place(dir: string, file: GeneratedFile, force: boolean): Promise<FileResult> {
  const target = join(dir, ...file.path.split('/'));
  const current = await existing(target);
  const base = { path: file.path, description: file.description };
  if (current === file.content) return { ...base, status: 'unchanged' };
  const diff = current === undefined ? undefined : unifiedDiff(current, file.content, file.path);
  if (current !== undefined && !force) return { ...base, status: 'skipped', diff: diff! };
  await mkdir(dirname(target), { recursive: true });
  await writeFileAtomic(target, file.content);
  return current === undefined ? { ...base, status: 'created' } : { ...base, status: 'overwritten', diff: diff! };
}

async function existing(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new HoistError(`cannot read ${path}: ${code ?? 'error'}`, { code: 'init.unreadable', cause: err, hint: 'Check the permissions of the directory given to --dir.' });
  }
}
