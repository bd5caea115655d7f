const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;

/** Variable names a text uses, in first-use order. */
export function placeholders(...texts: (string | null | undefined)[]): string[] {
  const names = new Set<string>();
  for (const t of texts) if (t) for (const m of t.matchAll(PLACEHOLDER)) names.add(m[1]!);
  return [...names];
}

/** Strings as they are; anything else as JSON. */
const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** Replaces every `{{name}}` with its variable; callers check completeness first. */
export function render(text: string, variables: Record<string, unknown>): string {
  return text.replace(PLACEHOLDER, (_, name: string) => show(variables[name]));
}
