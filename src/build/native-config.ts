// The instructions that only change the image config (ENV, LABEL, EXPOSE, VOLUME, USER, CMD,
// ENTRYPOINT, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER), as the classic Docker
// builder applies them. Pure functions over the config; `x` expands a word.

import { HoistError } from '../errors.ts';
import type { ContainerConfig, HealthConfig, ImageConfig } from '../image/image-config.ts';
import type { CommandForm, HealthcheckInstruction, Instruction } from '../model/dockerfile/index.ts';

export const DEFAULT_SHELL = ['/bin/sh', '-c'];

export interface ConfigState {
  image: ImageConfig;
  /** CMD was set in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
}

type Expand = (word: string) => string;

export function cfg(state: ConfigState): ContainerConfig {
  return (state.image.config ??= {});
}

export function setEnv(c: ContainerConfig, key: string, value: string): void {
  const env = (c.Env ??= []);
  const at = env.findIndex((e) => e.slice(0, e.indexOf('=')) === key);
  if (at >= 0) env[at] = `${key}=${value}`;
  else env.push(`${key}=${value}`);
}

export function envMap(c: ContainerConfig | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of c?.Env ?? []) {
    const eq = e.indexOf('=');
    if (eq > 0) m.set(e.slice(0, eq), e.slice(eq + 1));
  }
  return m;
}

function commandArgs(form: CommandForm, shell: string[]): string[] {
  return form.form === 'exec' ? form.args : [...shell, form.text];
}

function exposed(word: string, where: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(word);
  if (!m) throw new HoistError(`${where}: invalid port ${JSON.stringify(word)}`, { code: 'build.invalid-instruction', op: 'EXPOSE', hint: 'Use PORT[/PROTO] or START-END[/PROTO], e.g. 8080/tcp.' });
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (end < start || end > 65535) throw new HoistError(`${where}: invalid port range ${word}`, { code: 'build.invalid-instruction', op: 'EXPOSE' });
  const proto = (m[3] ?? 'tcp').toLowerCase();
  return Array.from({ length: end - start + 1 }, (_, i) => `${start + i}/${proto}`);
}

function healthcheck(ins: HealthcheckInstruction): HealthConfig {
  if (ins.none) return { Test: ['NONE'] };
  const h: HealthConfig = { Test: ins.command!.form === 'exec' ? ['CMD', ...ins.command!.args] : ['CMD-SHELL', ins.command!.text] };
  if (ins.interval) h.Interval = ins.interval;
  if (ins.timeout) h.Timeout = ins.timeout;
  if (ins.startPeriod) h.StartPeriod = ins.startPeriod;
  if (ins.startInterval) h.StartInterval = ins.startInterval;
  if (ins.retries) h.Retries = ins.retries;
  return h;
}

/** Apply a config-only instruction; false when `ins` is not one. */
export function applyConfig(state: ConfigState, ins: Instruction, x: Expand, where: string): boolean {
  const c = cfg(state);
  const shell = c.Shell ?? DEFAULT_SHELL;
  switch (ins.kind) {
    case 'ENV':
      for (const p of ins.pairs) setEnv(c, x(p.key), x(p.value));
      return true;
    case 'LABEL':
      c.Labels = { ...(c.Labels ?? {}) };
      for (const p of ins.pairs) c.Labels[x(p.key)] = x(p.value);
      return true;
    case 'EXPOSE':
      c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
      for (const w of ins.words) for (const p of exposed(x(w), where)) c.ExposedPorts[p] = {};
      return true;
    case 'VOLUME':
      c.Volumes = { ...(c.Volumes ?? {}) };
      for (const w of ins.words) {
        const v = x(w);
        if (v.trim() === '') throw new HoistError(`${where}: VOLUME specified can not be an empty string`, { code: 'build.invalid-instruction', op: 'VOLUME' });
        c.Volumes[v] = {};
      }
      return true;
    case 'USER':
      c.User = x(ins.value);
      return true;
    case 'STOPSIGNAL':
      c.StopSignal = x(ins.value);
      return true;
    case 'MAINTAINER':
      state.image.author = ins.value;
      return true;
    case 'CMD':
      c.Cmd = commandArgs(ins.command, shell);
      state.cmdSet = true;
      return true;
    case 'ENTRYPOINT':
      c.Entrypoint = commandArgs(ins.command, shell);
      if (!state.cmdSet) c.Cmd = null;
      return true;
    case 'SHELL':
      c.Shell = ins.shell;
      return true;
    case 'HEALTHCHECK':
      c.Healthcheck = healthcheck(ins);
      return true;
    case 'ONBUILD':
      c.OnBuild = [...(c.OnBuild ?? []), ins.expression];
      return true;
    default:
      return false;
  }
}
