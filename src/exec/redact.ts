// Redaction of known secret values (DESIGN §6: never print the ECR password, STS keys or the
// ID token). The runner applies it to every captured stream, every streamed line and every
// error it throws, so a secret echoed by a child process cannot leak through hoist.

export const REDACTED = '[redacted]';

/** Secrets worth matching: non-empty, longest first (so a secret containing another wins). */
export function normalizeSecrets(secrets: readonly string[] | undefined): string[] {
  if (!secrets) return [];
  const unique = [...new Set(secrets.filter((s) => s.length > 0))];
  return unique.sort((a, b) => b.length - a.length);
}

/** Replace every occurrence of every secret with `[redacted]`. */
export function redact(text: string, secrets: readonly string[] | undefined): string {
  let out = text;
  for (const s of normalizeSecrets(secrets)) {
    if (out.includes(s)) out = out.split(s).join(REDACTED);
  }
  return out;
}

/** Redacted copy of an argv, for error messages and logs. */
export function redactArgs(args: readonly string[], secrets: readonly string[] | undefined): string[] {
  return args.map((a) => redact(a, secrets));
}
