import { sse, type StreamFormat } from '../relay.js';
import { billedUsage, promptlabOf } from '../answer.js';
import { openaiErrorBody } from './errors.js';
import { chatUsage, OPENAI_FINISH } from './response.js';

/**
 * OpenAI's `chat.completion.chunk`s: a role chunk, then text as `delta.content` and each tool call
 * as `delta.tool_calls[i]` (its id and name first, then pieces of its arguments), a chunk with the
 * `finish_reason`, a usage chunk when asked, then `[DONE]`. Reasoning is not sent (the format has none).
 */
export function openaiStream(jobId: string, model: string, includeUsage: boolean): StreamFormat {
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: Record<string, unknown>, finish: string | null) =>
    sse({ id: jobId, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }] });
  /** Block number → the call's index among the answer's tool calls. */
  const calls = new Map<number, number>();
  return {
    start: () => chunk({ role: 'assistant', content: '' }, null),
    delta: (d) => {
      if (d.type === 'text') return chunk({ content: d.text }, null);
      if (d.type === 'tool_call') {
        calls.set(d.block, calls.size);
        return chunk({ tool_calls: [{ index: calls.get(d.block), id: d.id, type: 'function', function: { name: d.name, arguments: '' } }] }, null);
      }
      if (d.type === 'tool_args') return chunk({ tool_calls: [{ index: calls.get(d.block) ?? 0, function: { arguments: d.args } }] }, null);
      return '';
    },
    finish: (a) => (a.finishReason === 'refusal' ? chunk({ refusal: a.text }, null) : '') + chunk({}, OPENAI_FINISH[a.finishReason]) +
      (includeUsage ? sse({ id: jobId, object: 'chat.completion.chunk', created, model, choices: [], usage: chatUsage(billedUsage(a)), promptlab: promptlabOf(a) }) : '') +
      'data: [DONE]\n\n',
    error: (err) => sse(openaiErrorBody(err)),
    refusalApart: true,
  };
}
