import type { Static } from 'typebox';
import type { OutputBlock } from '../../llm/message.js';
import type { FinishReason, Usage } from '../../llm/result.js';
import { billedUsage, promptlabOf, type CompatAnswer } from '../answer.js';
import type { MessageAnswer } from './schema.js';

/** Finish reasons in the Messages format (a withheld answer is a refusal there). */
export const ANTHROPIC_STOP_REASONS = {
  stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use', refusal: 'refusal', content_filter: 'refusal',
} as const satisfies Record<FinishReason, string>;

/** Usage in the Messages format: `input_tokens` without the prompt-cache reads and writes, which are counted apart. */
export const messagesUsage = (u: Usage) => ({
  input_tokens: u.inputTokens - (u.cacheReadTokens ?? 0) - (u.cacheWriteTokens ?? 0),
  output_tokens: u.outputTokens,
  cache_creation_input_tokens: u.cacheWriteTokens ?? 0,
  cache_read_input_tokens: u.cacheReadTokens ?? 0,
});

/** A tool call's arguments as Anthropic's `input` object (`{}` for text that is not one). */
export function inputOf(args: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(args || '{}');
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** An answer block in the Messages format. */
export function contentBlock(b: OutputBlock): Static<typeof MessageAnswer>['content'][number] {
  switch (b.type) {
    case 'text': return { type: 'text', text: b.text };
    case 'tool_call': return { type: 'tool_use', id: b.id, name: b.name, input: inputOf(b.arguments) };
    case 'thinking': return { type: 'thinking', thinking: b.thinking, signature: b.signature ?? '' };
    case 'redacted_thinking': return { type: 'redacted_thinking', data: b.data };
  }
}

/** A completed generation as a Messages `message`. */
export function messageAnswer(a: CompatAnswer): Static<typeof MessageAnswer> {
  return {
    id: a.jobId, type: 'message', role: 'assistant', content: a.blocks.map(contentBlock), model: a.model,
    stop_reason: ANTHROPIC_STOP_REASONS[a.finishReason], stop_sequence: null, usage: messagesUsage(billedUsage(a)), promptlab: promptlabOf(a),
  };
}
