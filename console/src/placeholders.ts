/**
 * The server's own placeholder rules (src/templates/render.ts, which imports nothing), so the
 * editor's variables, preview and red marks are exactly what the API renders and refuses.
 */
export { placeholderErrors as malformed, placeholders, render } from '../../src/templates/render';

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
