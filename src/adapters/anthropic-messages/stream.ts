import type { StreamDelta } from '../../llm/result.js';
import { billedUsage, promptlabOf } from '../answer.js';
import { sse, type StreamFormat } from '../relay.js';
import { anthropicErrorBody } from './errors.js';
import { ANTHROPIC_STOP_REASONS, contentBlock, messagesUsage } from './response.js';

/**
 * Anthropic's events: message_start, then per block content_block_start, its deltas (text_delta,
 * input_json_delta for a tool call's input, thinking_delta) and content_block_stop, then
 * message_delta (stop reason and usage) and message_stop. A block opens with its first piece and
 * closes when the next one opens; a thinking block gets its signature before it closes.
 */
export function anthropicStream(jobId: string, model: string): StreamFormat {
  let open: number | undefined;
  let opened = false;
  const ev = (type: string, data: Record<string, unknown>) => sse({ type, ...data }, type);
  const close = () => {
    if (open === undefined) return '';
    const frame = ev('content_block_stop', { index: open });
    open = undefined;
    return frame;
  };
  const startOf = (d: StreamDelta) => {
    if (d.type === 'tool_call') return { type: 'tool_use', id: d.id, name: d.name, input: {} };
    return d.type === 'thinking' || d.type === 'signature' ? { type: 'thinking', thinking: '', signature: '' } : { type: 'text', text: '' };
  };
  const DELTAS: Record<StreamDelta['type'], ((d: never) => Record<string, unknown>) | undefined> = {
    text: (d: { text: string }) => ({ type: 'text_delta', text: d.text }),
    tool_args: (d: { args: string }) => ({ type: 'input_json_delta', partial_json: d.args }),
    thinking: (d: { text: string }) => ({ type: 'thinking_delta', thinking: d.text }),
    signature: (d: { signature: string }) => ({ type: 'signature_delta', signature: d.signature }),
    tool_call: undefined,
  };
  return {
    start: () => ev('message_start', {
      message: { id: jobId, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } },
    }),
    delta: (d) => {
      let frames = '';
      if (open !== d.block) {
        frames += close() + ev('content_block_start', { index: d.block, content_block: startOf(d) });
        open = d.block;
        opened = true;
      }
      const delta = DELTAS[d.type]?.(d as never);
      return delta ? frames + ev('content_block_delta', { index: d.block, delta }) : frames;
    },
    finish: (a) => {
      let frames = close();
      // Blocks that are never streamed (redacted reasoning), and an empty answer's one text block.
      a.blocks.forEach((b, i) => {
        if (b.type !== 'redacted_thinking') return;
        frames += ev('content_block_start', { index: i, content_block: contentBlock(b) }) + ev('content_block_stop', { index: i });
        opened = true;
      });
      if (!opened) frames += ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) + ev('content_block_stop', { index: 0 });
      return frames +
        ev('message_delta', { delta: { stop_reason: ANTHROPIC_STOP_REASONS[a.finishReason], stop_sequence: null }, usage: messagesUsage(billedUsage(a)), promptlab: promptlabOf(a) }) +
        ev('message_stop', {});
    },
    error: (err) => sse(anthropicErrorBody(err), 'error'),
  };
}
