// Build platforms `os/arch[/variant]`, as in the OCI image index `platform` object and
// `docker build --platform` (`linux/amd64`, `linux/arm64/v8`, `linux/arm/v7`).

import { type Parsed, fail, ok, quote } from './value.ts';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const PART = /^[a-z0-9_]+$/;

export function parsePlatform(raw: string, source = '--platform'): Parsed<Platform> {
  const parts = raw.split('/');
  const [os = '', architecture = '', variant] = parts;
  if (parts.length >= 2 && parts.length <= 3 && parts.every((p) => PART.test(p))) {
    return ok(variant === undefined ? { os, architecture } : { os, architecture, variant });
  }
  const why = raw !== raw.toLowerCase() ? 'platforms are lowercase' : 'expected os/arch or os/arch/variant';
  return fail(source, `${quote(raw)} is not a platform: ${why}`, 'For example linux/amd64, linux/arm64 or linux/arm/v7.');
}

export function formatPlatform(p: Platform): string {
  return p.variant === undefined ? `${p.os}/${p.architecture}` : `${p.os}/${p.architecture}/${p.variant}`;
}
