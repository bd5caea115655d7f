import type { OutputBlock } from '../../llm/message.js';
import type { FinishReason, Usage } from '../../llm/result.js';
import { billedUsage, promptlabOf, type CompatAnswer } from '../answer.js';
import { reasoningItem } from './reasoning.js';

/** What a response object repeats of the request that made it. */
export interface ResponseEcho {
  instructions: string | null;
  tools: Record<string, unknown>[];
  tool_choice: unknown;
  parallel_tool_calls: boolean;
  text: Record<string, unknown>;
  max_output_tokens: number | null;
  temperature: number | null;
  top_p: number | null;
  previous_response_id: string | null;
  metadata: Record<string, unknown>;
}

/** Usage in the Responses format. */
export const responsesUsage = (u: Usage) => ({
  input_tokens: u.inputTokens, input_tokens_details: { cached_tokens: u.cacheReadTokens ?? 0 },
  output_tokens: u.outputTokens, output_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
  total_tokens: u.inputTokens + u.outputTokens,
});

/** The id of the output item of block `i`: one item per block, so an item's output_index is its block's index. */
export const itemId = (jobId: string, b: OutputBlock, i: number): string =>
  `${b.type === 'tool_call' ? 'fc' : b.type === 'text' ? 'msg' : 'rs'}_${jobId.replace(/^gen_/, '')}_${i}`;

/** The output item of one answer block, finished (`refusal`: a text block is the model's refusal). */
export function outputItem(jobId: string, b: OutputBlock, i: number, refusal = false): Record<string, unknown> {
  const id = itemId(jobId, b, i);
  switch (b.type) {
    case 'text':
      return {
        id, type: 'message', role: 'assistant', status: 'completed',
        content: [refusal ? { type: 'refusal', refusal: b.text } : { type: 'output_text', text: b.text, annotations: [], logprobs: [] }],
      };
    case 'tool_call': return { id, type: 'function_call', status: 'completed', call_id: b.id, name: b.name, arguments: b.arguments };
    default: return reasoningItem(id, b);
  }
}

/** Why a response is `incomplete`, if it is. */
const incompleteOf = (f: FinishReason) => (f === 'length' ? { reason: 'max_output_tokens' } : f === 'content_filter' ? { reason: 'content_filter' } : null);

/** A finished answer as a Responses `response` object. */
export function responseObject(a: CompatAnswer, echo: ResponseEcho, createdAt: number) {
  const incomplete = incompleteOf(a.finishReason);
  return {
    id: a.jobId, object: 'response' as const, created_at: createdAt, status: incomplete ? 'incomplete' as const : 'completed' as const, model: a.model,
    output: a.blocks.map((b, i) => outputItem(a.jobId, b, i, a.finishReason === 'refusal')),
    usage: responsesUsage(billedUsage(a)),
    ...echo, error: null, incomplete_details: incomplete, store: true, promptlab: promptlabOf(a),
  };
}
