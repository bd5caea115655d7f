import type { Static } from 'typebox';
import type { CompatAnswer } from '../translate.js';
import type { ChatCompletion } from './schema.js';

/** A completed generation as a `chat.completion`. */
export function chatCompletion(a: CompatAnswer): Static<typeof ChatCompletion> {
  return {
    id: a.jobId, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: a.model,
    choices: [{ index: 0, message: { role: 'assistant', content: a.text, refusal: null }, finish_reason: a.finishReason, logprobs: null }],
    usage: { prompt_tokens: a.inputTokens, completion_tokens: a.outputTokens, total_tokens: a.inputTokens + a.outputTokens },
  };
}
