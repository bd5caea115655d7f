/** The server's placeholder rules (src/templates/render.ts), for live feedback while typing. */
export const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;
const AT = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/y;

export function placeholders(...texts: (string | null | undefined)[]): string[] {
  const names = new Set<string>();
  for (const t of texts) if (t) for (const m of t.matchAll(PLACEHOLDER)) names.add(m[1]!);
  return [...names];
}

/** Offsets of each `{{` that does not open a well-formed placeholder. */
export function malformed(text: string): { offset: number; line: number; column: number }[] {
  const out = [];
  for (let at = text.indexOf('{{'); at >= 0; at = text.indexOf('{{', at)) {
    AT.lastIndex = at;
    const m = AT.exec(text);
    if (m) {
      at += m[0].length;
      continue;
    }
    const before = text.slice(0, at);
    out.push({ offset: at, line: before.split('\n').length, column: at - before.lastIndexOf('\n') });
    at += 2;
  }
  return out;
}

/** Strings as they are, anything else as JSON: what the server sends. */
export function render(text: string, values: Record<string, unknown>): string {
  return text.replace(PLACEHOLDER, (_, n: string) => {
    const v = values[n];
    return typeof v === 'string' ? v : JSON.stringify(v);
  });
}

/** A form value as a variable: JSON when it parses as a number, boolean, object or array; else the text. */
export function asVariable(text: string): unknown {
  if (/^\s*(-?\d|true\b|false\b|null\b|\{|\[)/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}
