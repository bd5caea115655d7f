import { Value } from 'typebox/value';
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import { RoutingDocument } from './document.js';

/** A routing document, or the one-line problem that stops it (naming the line when it comes from text). */
export type Parsed = { doc: RoutingDocument } | { problem: string };

/** The line of the node at a JSON pointer (`/groups/0/name`), or of the nearest parent that exists. */
function lineOf(doc: Document, lines: LineCounter, pointer: string): number | undefined {
  const path = pointer.split('/').slice(1).map((p) => (/^\d+$/.test(p) ? Number(p) : p.replaceAll('~1', '/').replaceAll('~0', '~')));
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

/** The first way `value` is not a routing document, as `at /path: message`, or undefined. */
export function shapeProblem(value: unknown): { pointer: string; message: string } | undefined {
  const e = Value.Errors(RoutingDocument, value).find((x) => x.message !== 'schema is false');
  if (!e) return undefined;
  const extra = (e.params as { additionalProperties?: string[] }).additionalProperties;
  return { pointer: e.instancePath || '', message: extra ? `has unknown field ${JSON.stringify(extra[0])}` : e.message };
}

/**
 * A routing document from text, YAML or JSON (JSON is YAML): its syntax, then its shape, each
 * problem one line naming `source` and the line (`ROUTES_FILE routes.yaml line 7: /groups/0 …`).
 * References, keys and addresses are checked afterwards (`checkDocument`).
 */
export function parseRouting(text: string, source: string): Parsed {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax) {
    const line = syntax.linePos?.[0]?.line;
    return { problem: `${source}${line ? ` line ${line}` : ''}: ${syntax.message.split('\n')[0]}` };
  }
  const value = Value.Default(RoutingDocument, doc.toJS({ maxAliasCount: 100 }));
  const shape = shapeProblem(value);
  if (!shape) return { doc: value as RoutingDocument };
  const line = lineOf(doc, lines, shape.pointer);
  return { problem: `${source}${line ? ` line ${line}` : ''}: ${shape.pointer || '(root)'} ${shape.message}` };
}
