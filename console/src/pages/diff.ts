/** A line diff (longest common subsequence): enough for template versions of a few hundred lines. */
export function diffLines(a: string, b: string): { kind: 'same' | 'add' | 'del'; line: string }[] {
  const x = a.split('\n');
  const y = b.split('\n');
  const n = x.length;
  const m = y.length;
  const lcs = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: { kind: 'same' | 'add' | 'del'; line: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) { out.push({ kind: 'same', line: x[i]! }); i++; j++; }
    else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) out.push({ kind: 'del', line: x[i++]! });
    else out.push({ kind: 'add', line: y[j++]! });
  }
  while (i < n) out.push({ kind: 'del', line: x[i++]! });
  while (j < m) out.push({ kind: 'add', line: y[j++]! });
  return out;
}
