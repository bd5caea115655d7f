import type { Static } from 'typebox';
import type { FinishReason } from '../../llm/result.js';
import type { CompatAnswer } from '../translate.js';
import type { MessageAnswer } from './schema.js';

/** Finish reasons in the Messages format. */
export const ANTHROPIC_STOP_REASONS = { stop: 'end_turn', length: 'max_tokens' } as const satisfies Record<FinishReason, string>;

/** A completed generation as a Messages `message`. */
export function messageAnswer(a: CompatAnswer): Static<typeof MessageAnswer> {
  return {
    id: a.jobId, type: 'message', role: 'assistant', content: [{ type: 'text', text: a.text }], model: a.model,
    stop_reason: ANTHROPIC_STOP_REASONS[a.finishReason], stop_sequence: null, usage: { input_tokens: a.inputTokens, output_tokens: a.outputTokens },
  };
}
