import type { Static } from 'typebox';
import { toolCallsOf } from '../../llm/answer.js';
import type { FinishReason, Usage } from '../../llm/result.js';
import { billedUsage, promptlabOf, type CompatAnswer } from '../answer.js';
import type { ChatCompletion } from './schema.js';

/** Finish reasons in the Chat Completions format: a refusal finishes `stop`, with the message's `refusal` set. */
export const OPENAI_FINISH: Record<FinishReason, 'stop' | 'length' | 'tool_calls' | 'content_filter'> = {
  stop: 'stop', length: 'length', tool_calls: 'tool_calls', content_filter: 'content_filter', refusal: 'stop',
};

/** Usage in the Chat Completions format, with the cached-prompt and reasoning parts. */
export const chatUsage = (u: Usage) => ({
  prompt_tokens: u.inputTokens, completion_tokens: u.outputTokens, total_tokens: u.inputTokens + u.outputTokens,
  prompt_tokens_details: { cached_tokens: u.cacheReadTokens ?? 0 },
  completion_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
});

/** A completed generation as a `chat.completion`: its text (or refusal) and its tool calls. */
export function chatCompletion(a: CompatAnswer): Static<typeof ChatCompletion> {
  const refused = a.finishReason === 'refusal';
  const calls = toolCallsOf(a.blocks).map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } }));
  return {
    id: a.jobId, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: a.model,
    choices: [{
      index: 0,
      message: { role: 'assistant', content: refused || (calls.length && !a.text) ? null : a.text, refusal: refused ? a.text : null, ...(calls.length ? { tool_calls: calls } : {}) },
      finish_reason: OPENAI_FINISH[a.finishReason],
      logprobs: (a.logprobs as Record<string, unknown> | undefined) ?? null,
    }],
    usage: chatUsage(billedUsage(a)),
    promptlab: promptlabOf(a),
  };
}
