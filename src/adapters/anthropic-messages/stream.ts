import { sse, type StreamFormat } from '../relay.js';
import { anthropicErrorBody } from './errors.js';
import { ANTHROPIC_STOP_REASONS } from './response.js';

/** Anthropic's message_start, content_block_start, content_block_delta*, content_block_stop, message_delta, message_stop. */
export function anthropicStream(jobId: string, model: string): StreamFormat {
  return {
    start: () =>
      sse({ type: 'message_start', message: { id: jobId, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null,
        usage: { input_tokens: 0, output_tokens: 0 } } }, 'message_start') +
      sse({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start'),
    delta: (text) => sse({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }, 'content_block_delta'),
    finish: (u, reason) =>
      sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop') +
      sse({ type: 'message_delta', delta: { stop_reason: ANTHROPIC_STOP_REASONS[reason], stop_sequence: null },
        usage: { input_tokens: u.inputTokens, output_tokens: u.outputTokens } }, 'message_delta') +
      sse({ type: 'message_stop' }, 'message_stop'),
    error: (err) => sse(anthropicErrorBody(err), 'error'),
  };
}

