// Minimal, deterministic ustar writer for test fixtures (base images, OCI layers).
// Test-only: the product's own tar writer lives in src/image.

export type TarEntry =
  | { type: 'dir'; path: string; mode?: number; uid?: number; gid?: number; mtime?: number }
  | { type: 'file'; path: string; data: string | Uint8Array; mode?: number; uid?: number; gid?: number; mtime?: number }
  | { type: 'symlink'; path: string; target: string; uid?: number; gid?: number; mtime?: number };

const BLOCK = 512;
/** Fixed mtime (2024-01-01T00:00:00Z) so the same entries always give the same bytes. */
export const FIXED_MTIME = 1704067200;

function writeString(buf: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar: field too long (${bytes.length} > ${length}): ${value}`);
  bytes.copy(buf, offset);
}

function writeOctal(buf: Buffer, offset: number, length: number, value: number): void {
  // length-1 octal digits followed by NUL
  const s = Math.trunc(value).toString(8);
  if (s.length > length - 1) throw new Error(`tar: numeric field overflow: ${value}`);
  writeString(buf, offset, length, s.padStart(length - 1, '0') + '\0');
}

/** Split a path into ustar prefix (<=155) and name (<=100). */
function splitPath(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== '/') continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name.length > 0) return { name, prefix };
  }
  throw new Error(`tar: path too long for ustar: ${path}`);
}

function header(entry: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  let path = entry.path.replace(/^\/+/, '');
  if (entry.type === 'dir' && !path.endsWith('/')) path += '/';
  const { name, prefix } = splitPath(path);
  writeString(h, 0, 100, name);
  const defaultMode = entry.type === 'dir' ? 0o755 : entry.type === 'symlink' ? 0o777 : 0o644;
  writeOctal(h, 100, 8, ('mode' in entry && entry.mode !== undefined ? entry.mode : defaultMode) & 0o7777);
  writeOctal(h, 108, 8, entry.uid ?? 0);
  writeOctal(h, 116, 8, entry.gid ?? 0);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, entry.mtime ?? FIXED_MTIME);
  h.fill(0x20, 148, 156); // checksum placeholder: spaces
  h.write(entry.type === 'dir' ? '5' : entry.type === 'symlink' ? '2' : '0', 156, 'latin1');
  if (entry.type === 'symlink') writeString(h, 157, 100, entry.target);
  writeString(h, 257, 6, 'ustar\0');
  writeString(h, 263, 2, '00');
  writeString(h, 265, 32, (entry.uid ?? 0) === 0 ? 'root' : '');
  writeString(h, 297, 32, (entry.gid ?? 0) === 0 ? 'root' : '');
  writeString(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

/** Serialise entries, in the given order, as a complete tar archive (with the two zero end blocks). */
export function tar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.type === 'file' ? (typeof e.data === 'string' ? Buffer.from(e.data, 'utf8') : Buffer.from(e.data)) : Buffer.alloc(0);
    parts.push(header(e, data.length));
    if (data.length > 0) {
      parts.push(data);
      const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
      if (pad) parts.push(Buffer.alloc(pad, 0));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}
