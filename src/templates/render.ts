const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;
/** A placeholder exactly at a position: `{{`, a name, `}}`. */
const PLACEHOLDER_AT = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/y;

const usedBy = new WeakMap<object, string[]>();

/** Variable names a template uses (body, then system), computed once per template row. */
export function templateVariables(t: { body: string; system: string | null }): string[] {
  let names = usedBy.get(t);
  if (!names) usedBy.set(t, (names = placeholders(t.body, t.system)));
  return names;
}

/** Variable names a text uses, in first-use order. */
export function placeholders(...texts: (string | null | undefined)[]): string[] {
  const names = new Set<string>();
  for (const t of texts) if (t) for (const m of t.matchAll(PLACEHOLDER)) names.add(m[1]!);
  return [...names];
}

/** A name that matches the placeholder syntax but no request can give: JSON bodies carrying `__proto__` are refused. */
const RESERVED = '__proto__';

/** Where a text has a `{{` that does not open a well-formed placeholder. */
export interface PlaceholderError {
  /** 0-based offset of the `{{`. */
  offset: number;
  /** 1-based line and column of the `{{`. */
  line: number;
  column: number;
  /** The text from the `{{`, up to 30 characters. */
  near: string;
  reason: string;
}

/**
 * Every malformed placeholder of a text: every `{{` must open `{{name}}` (a name is
 * `[A-Za-z_][A-Za-z0-9_.-]*`, spaces around it allowed). A lone `}}` is left alone: it ends
 * nested JSON objects in prompts that show an example. The console marks these as you type.
 */
export function placeholderErrors(text: string): PlaceholderError[] {
  const out: PlaceholderError[] = [];
  for (let at = text.indexOf('{{'); at >= 0; at = text.indexOf('{{', at)) {
    PLACEHOLDER_AT.lastIndex = at;
    const m = PLACEHOLDER_AT.exec(text);
    if (m && m[1] !== RESERVED) {
      at += m[0].length;
      continue;
    }
    const rest = text.slice(at + 2);
    const close = rest.indexOf('}}');
    const open = rest.indexOf('{{');
    const inner = close >= 0 && (open < 0 || close < open) ? rest.slice(0, close).trim() : undefined;
    const reason = m ? `uses the name ${RESERVED}, which no request can give (JSON bodies may not carry that key)`
      : inner === undefined ? 'is never closed with }}'
      : inner === '' ? 'has no variable name'
      : `has an invalid variable name ${JSON.stringify(inner.slice(0, 40))} (letters, digits, _ . -; not starting with a digit)`;
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    const column = at - before.lastIndexOf('\n');
    out.push({ offset: at, line, column, near: text.slice(at, at + 30), reason });
    at += 2;
  }
  return out;
}

/** The first malformed placeholder of a text (see `placeholderErrors`): what a 400 `invalid_template` names. */
export const placeholderError = (text: string): PlaceholderError | undefined => placeholderErrors(text)[0];

/** Strings as they are; anything else as JSON. */
const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/**
 * Replaces every `{{name}}` with its variable; callers check completeness first.
 * Own properties only, so `{{constructor}}` is never Object.prototype's.
 */
export function render(text: string, variables: Record<string, unknown>): string {
  return text.replace(PLACEHOLDER, (_, name: string) => show(Object.hasOwn(variables, name) ? variables[name] : undefined));
}
