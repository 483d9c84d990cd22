// Finds where each file sits inside a tar archive (POSIX ustar, with PAX `path`/`linkpath`
// and GNU long names), reading only the 512-byte headers: member bytes are then streamed
// straight from the file by offset, never unpacked.

import { open } from 'node:fs/promises';
import { posix } from 'node:path';
import { HoistError } from '../errors.ts';

export interface TarMember {
  offset: number;
  size: number;
}

const BLOCK = 512;

function field(h: Buffer, start: number, len: number): string {
  const raw = h.subarray(start, start + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

function octal(h: Buffer, start: number, len: number): number {
  if (h[start]! & 0x80) return Number(h.readBigUInt64BE(start + len - 8)); // GNU base-256
  return parseInt(field(h, start, len).trim() || '0', 8);
}

function paxRecords(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < body.length) {
    const space = body.indexOf(0x20, pos);
    const len = parseInt(body.subarray(pos, space).toString(), 10);
    if (!(len > 0)) break;
    const rec = body.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    pos += len;
  }
  return out;
}

interface Pending {
  path?: string;
  link?: string;
}

/** Regular files by normalized path; symbolic and hard links resolved to their targets. */
export async function indexTar(file: string): Promise<Map<string, TarMember>> {
  const fh = await open(file, 'r');
  const files = new Map<string, TarMember>();
  const links = new Map<string, string>();
  try {
    const header = Buffer.alloc(BLOCK);
    let offset = 0;
    let pending: Pending = {};
    for (;;) {
      const { bytesRead } = await fh.read(header, 0, BLOCK, offset);
      if (bytesRead < BLOCK || header.every((b) => b === 0)) break;
      const size = octal(header, 124, 12);
      const type = String.fromCharCode(header[156]!);
      const body = offset + BLOCK;
      const name = pending.path ?? joinName(field(header, 345, 155), field(header, 0, 100));
      if (type === 'x' || type === 'L' || type === 'K') {
        const data = Buffer.alloc(size);
        await fh.read(data, 0, size, body);
        pending = type === 'x' ? { ...pending, ...pick(paxRecords(data)) }
          : type === 'L' ? { ...pending, path: data.toString('utf8').replace(/\0+$/, '') } : { ...pending, link: data.toString('utf8').replace(/\0+$/, '') };
      } else {
        const path = normalize(name);
        if (type === '0' || type === '\0' || type === '7') files.set(path, { offset: body, size });
        if (type === '1') links.set(path, normalize(pending.link ?? field(header, 157, 100)));
        if (type === '2') links.set(path, normalize(posix.join(posix.dirname(path), pending.link ?? field(header, 157, 100))));
        pending = {};
      }
      offset = body + Math.ceil(size / BLOCK) * BLOCK;
    }
  } finally {
    await fh.close();
  }
  for (const [path, target] of links) {
    const hit = files.get(target);
    if (hit) files.set(path, hit);
  }
  return files;
}

function pick(rec: Record<string, string>): Pending {
  return { ...(rec.path ? { path: rec.path } : {}), ...(rec.linkpath ? { link: rec.linkpath } : {}) };
}

function joinName(prefix: string, name: string): string {
  return prefix ? `${prefix}/${name}` : name;
}

export function normalize(path: string): string {
  return posix.normalize(path).replace(/^(\.\/)+/, '').replace(/^\/+/, '');
}

export function member(index: Map<string, TarMember>, path: string, archive: string): TarMember {
  const hit = index.get(normalize(path));
  if (hit) return hit;
  throw new HoistError(`${archive} has no ${path}`, { code: 'image.archive-invalid', op: 'read docker archive', hint: 'Is it a `docker save` archive?' });
}
