const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;

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

/** Strings as they are; anything else as JSON. */
const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/**
 * Replaces every `{{name}}` with its variable; callers check completeness first.
 * Own properties only, so `{{constructor}}` is never Object.prototype's.
 */
export function render(text: string, variables: Record<string, unknown>): string {
  return text.replace(PLACEHOLDER, (_, name: string) => show(Object.hasOwn(variables, name) ? variables[name] : undefined));
}
