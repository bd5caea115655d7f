import type { OutputBlock } from '../../llm/message.js';
import type { StreamDelta } from '../../llm/result.js';
import { messageOf, paramOf } from '../error-text.js';
import { sse, type StreamFormat } from '../relay.js';
import { itemId, outputItem, responseObject, type ResponseEcho } from './response.js';

/**
 * The Responses API's typed events: `response.created` and `response.in_progress`; per answer
 * block an output item (`response.output_item.added`, for text a `content_part.added` and
 * `output_text.delta`s, for a function call `function_call_arguments.delta`s, then the `.done`
 * events and `output_item.done`); then `response.completed` (or `response.incomplete`) with
 * the whole response. Every event has its `sequence_number`; each item's `output_index` is its
 * block's index.
 */
export function responsesStream(jobId: string, model: string, echo: ResponseEcho): StreamFormat {
  const createdAt = Math.floor(Date.now() / 1000);
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>) => sse({ type, sequence_number: seq++, ...data }, type);
  /** The blocks opened so far, as streamed. */
  const open = new Map<number, OutputBlock>();
  let current: number | undefined;
  const shell = { id: jobId, object: 'response', created_at: createdAt, model, output: [], usage: null, ...echo, error: null, incomplete_details: null, store: true };

  const close = (b: OutputBlock, i: number) => {
    const id = itemId(jobId, b, i);
    let frames = '';
    if (b.type === 'text') {
      frames += ev('response.output_text.done', { item_id: id, output_index: i, content_index: 0, text: b.text, logprobs: [] }) +
        ev('response.content_part.done', { item_id: id, output_index: i, content_index: 0, part: { type: 'output_text', text: b.text, annotations: [] } });
    } else if (b.type === 'tool_call') {
      frames += ev('response.function_call_arguments.done', { item_id: id, output_index: i, arguments: b.arguments });
    }
    return frames + ev('response.output_item.done', { output_index: i, item: outputItem(jobId, b, i) });
  };
  const opening = (d: StreamDelta): string => {
    const i = d.block;
    const b: OutputBlock = d.type === 'tool_call' ? { type: 'tool_call', id: d.id, name: d.name, arguments: '' }
      : d.type === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '' };
    open.set(i, b);
    const id = itemId(jobId, b, i);
    const item = b.type === 'text' ? { id, type: 'message', role: 'assistant', status: 'in_progress', content: [] }
      : b.type === 'tool_call' ? { id, type: 'function_call', status: 'in_progress', call_id: b.id, name: b.name, arguments: '' }
      : { id, type: 'reasoning', status: 'in_progress', summary: [] };
    return ev('response.output_item.added', { output_index: i, item }) +
      (b.type === 'text' ? ev('response.content_part.added', { item_id: id, output_index: i, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }) : '');
  };

  return {
    start: () => ev('response.created', { response: { ...shell, status: 'in_progress' } }) + ev('response.in_progress', { response: { ...shell, status: 'in_progress' } }),
    delta: (d) => {
      let frames = '';
      if (current !== d.block) {
        const prev = current !== undefined ? open.get(current) : undefined;
        if (prev) frames += close(prev, current!);
        frames += opening(d);
        current = d.block;
      }
      const b = open.get(d.block)!;
      const id = itemId(jobId, b, d.block);
      if (d.type === 'text' && b.type === 'text') {
        b.text += d.text;
        frames += ev('response.output_text.delta', { item_id: id, output_index: d.block, content_index: 0, delta: d.text, logprobs: [] });
      } else if (d.type === 'tool_args' && b.type === 'tool_call') {
        b.arguments += d.args;
        frames += ev('response.function_call_arguments.delta', { item_id: id, output_index: d.block, delta: d.args });
      }
      return frames;
    },
    finish: (a) => {
      let frames = '';
      // The last item closes with the whole block (a reasoning item with its signature); blocks never streamed open and close now.
      a.blocks.forEach((b, i) => {
        if (i === current) frames += close(b, i);
        else if (!open.has(i)) frames += ev('response.output_item.added', { output_index: i, item: outputItem(jobId, b, i) }) + ev('response.output_item.done', { output_index: i, item: outputItem(jobId, b, i) });
      });
      const response = responseObject({ ...a, model }, echo, createdAt);
      return frames + ev(response.status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response });
    },
    error: (err) => ev('error', { code: err.code, message: messageOf(err), param: paramOf(err) }),
  };
}
