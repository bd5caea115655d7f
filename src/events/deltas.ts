import type { StreamDelta } from '../llm/result.js';

/**
 * A streamed piece as the data of a `delta` job event. Text keeps the shape it always had
 * (`{text}`, plus its `block`), so a reader that only wants the text appends every `text`;
 * the other kinds carry `kind` and no `text`.
 */
export function deltaEventData(d: StreamDelta): Record<string, unknown> {
  switch (d.type) {
    case 'text': return d.block ? { text: d.text, block: d.block } : { text: d.text };
    case 'tool_call': return { kind: 'tool_call', block: d.block, id: d.id, name: d.name };
    case 'tool_args': return { kind: 'tool_args', block: d.block, args: d.args };
    case 'thinking': return { kind: 'thinking', block: d.block, thinking: d.text };
    case 'signature': return { kind: 'signature', block: d.block, signature: d.signature };
  }
}

/** The piece a `delta` event carries, or undefined for data of no known shape. */
export function deltaOfEvent(data: Record<string, unknown>): StreamDelta | undefined {
  const block = typeof data.block === 'number' ? data.block : 0;
  if (typeof data.text === 'string') return { type: 'text', block, text: data.text };
  if (data.kind === 'tool_call' && typeof data.id === 'string' && typeof data.name === 'string') return { type: 'tool_call', block, id: data.id, name: data.name };
  if (data.kind === 'tool_args' && typeof data.args === 'string') return { type: 'tool_args', block, args: data.args };
  if (data.kind === 'thinking' && typeof data.thinking === 'string') return { type: 'thinking', block, text: data.thinking };
  if (data.kind === 'signature' && typeof data.signature === 'string') return { type: 'signature', block, signature: data.signature };
  return undefined;
}
