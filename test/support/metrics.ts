/** One sample line of Prometheus text: `name{labels} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const VALUE = '[+-]?(?:[Ii][Nn][Ff]|[Nn][Aa][Nn]|\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?|\\.\\d+(?:[eE][+-]?\\d+)?)';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*,?)?\\})? (${VALUE})(?: -?\\d+)?$`);
const SUFFIXES: Record<string, string[]> = { counter: [''], gauge: [''], untyped: [''], histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };
const unescape = (v: string) => v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));

/**
 * A strict reader of the Prometheus text exposition format (0.0.4): every
 * line must be a HELP, a TYPE, a comment or a sample of the family its TYPE
 * announced, names and labels well formed; every histogram series must have
 * non-decreasing buckets ending in `+Inf` equal to its `_count`. Throws naming
 * the first line that breaks a rule.
 */
export function parseMetrics(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Family | undefined;
  text.split('\n').forEach((line, i) => {
    const fail = (why: string) => { throw new Error(`line ${i + 1}: ${why}: ${line}`); };
    if (line === '') return;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!new RegExp(`^${NAME}$`).test(name)) fail('bad metric name');
      if (!families.has(name)) families.set(name, { name, type: 'untyped', help: '', samples: [] });
      current = families.get(name)!;
      if (kind === 'HELP') current.help = rest;
      else if (!SUFFIXES[rest] || current.samples.length > 0) fail('bad or late TYPE');
      else current.type = rest;
      return;
    }
    if (line.startsWith('#')) return;
    const m = SAMPLE.exec(line);
    if (!m) return fail('not a sample line');
    const [, name, labelText, value] = m as unknown as [string, string, string | undefined, string];
    if (!current || !SUFFIXES[current.type]!.some((s) => `${current!.name}${s}` === name)) fail(`sample outside its family (${current?.name})`);
    const labels: Record<string, string> = {};
    for (const l of (labelText ?? '').matchAll(new RegExp(LABEL, 'g'))) {
      const eq = l[0].indexOf('=');
      labels[l[0].slice(0, eq)] = unescape(l[0].slice(eq + 2, -1));
    }
    current!.samples.push({ name, labels, value: /inf/i.test(value) ? (value.startsWith('-') ? -Infinity : Infinity) : Number(value) });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: Family) {
  const series = new Map<string, { buckets: number[]; inf?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    if (!series.has(key)) series.set(key, { buckets: [] });
    const entry = series.get(key)!;
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      if (le === '+Inf') entry.inf = s.value;
      entry.buckets.push(s.value);
    } else if (s.name.endsWith('_count')) entry.count = s.value;
  }
  for (const [key, s] of series) {
    if (s.inf === undefined || s.inf !== s.count) throw new Error(`${f.name}${key}: +Inf bucket ${s.inf} != count ${s.count}`);
    if (s.buckets.some((b, i) => i > 0 && b < s.buckets[i - 1]!)) throw new Error(`${f.name}${key}: buckets decrease`);
  }
}

/**
 * The sum of a family's samples whose labels include `labels`: the value of a
 * counter or gauge, the `_count` of a histogram. 0 when none match.
 */
export function sample(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const f = families.get(name);
  if (!f) return 0;
  const wanted = f.type === 'histogram' ? `${name}_count` : name;
  return f.samples
    .filter((s) => s.name === wanted && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}
