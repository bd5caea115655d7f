import type { FinishReason } from '../../llm/result.js';
import { sse, type StreamFormat } from '../relay.js';
import { openaiErrorBody } from './errors.js';

/** OpenAI's `chat.completion.chunk`s, a chunk with the `finish_reason`, a usage chunk when asked, then `[DONE]`. */
export function openaiStream(jobId: string, model: string, includeUsage: boolean): StreamFormat {
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: Record<string, unknown>, finish: FinishReason | null) =>
    sse({ id: jobId, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }] });
  return {
    start: () => chunk({ role: 'assistant', content: '' }, null),
    delta: (text) => chunk({ content: text }, null),
    finish: (u, reason) => chunk({}, reason) +
      (includeUsage ? sse({ id: jobId, object: 'chat.completion.chunk', created, model, choices: [],
        usage: { prompt_tokens: u.inputTokens, completion_tokens: u.outputTokens, total_tokens: u.inputTokens + u.outputTokens } }) : '') +
      'data: [DONE]\n\n',
    error: (err) => sse(openaiErrorBody(err)),
  };
}

