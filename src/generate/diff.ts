// A small unified diff (LCS over lines, 3 lines of context): enough to show what `hoist init`
// would change in a file it will not overwrite.

type Op = { kind: ' ' | '-' | '+'; line: string };

function lines(text: string): string[] {
  const out = text.split('\n');
  if (out[out.length - 1] === '') out.pop();
  return out;
}

function ops(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  // lcs[i][j]: length of the LCS of a[i..] and b[j..].
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const out: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) out.push({ kind: ' ', line: a[i++]! }), j++;
    // Deletions before insertions, as diff(1) prints them.
    else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) out.push({ kind: '-', line: a[i++]! });
    else out.push({ kind: '+', line: b[j++]! });
  }
  return out;
}

/** `--- a/<name>` / `+++ b/<name>` and hunks; empty when the texts are equal. */
export function unifiedDiff(before: string, after: string, name: string, context = 3): string {
  if (before === after) return '';
  const all = ops(lines(before), lines(after));
  const changed = all.map((o, k) => (o.kind !== ' ' ? k : -1)).filter((k) => k >= 0);
  const hunks: Array<[number, number]> = [];
  for (const k of changed) {
    const last = hunks[hunks.length - 1];
    if (last && k - context <= last[1] + context + 1) last[1] = k;
    else hunks.push([k, k]);
  }
  const out = [`--- a/${name}`, `+++ b/${name}`];
  for (const [first, lastChanged] of hunks) {
    const start = Math.max(0, first - context);
    const end = Math.min(all.length, lastChanged + context + 1);
    const before0 = all.slice(0, start).filter((o) => o.kind !== '+').length;
    const after0 = all.slice(0, start).filter((o) => o.kind !== '-').length;
    const body = all.slice(start, end);
    const aLen = body.filter((o) => o.kind !== '+').length;
    const bLen = body.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${range(before0, aLen)} +${range(after0, bLen)} @@`, ...body.map((o) => o.kind + o.line));
  }
  if (!before.endsWith('\n') && before !== '') out.push('\\ No newline at end of file');
  return out.join('\n') + '\n';
}

function range(start0: number, len: number): string {
  const start = len === 0 ? start0 : start0 + 1;
  return len === 1 ? `${start}` : `${start},${len}`;
}
