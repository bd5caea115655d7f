import type { ContentBlock, MediaSource, Message, OutputBlock } from '../../llm/message.js';
import { systemText, type GenerationRequest, type Reasoning } from '../../llm/request.js';
import type { StopReason, Usage } from '../../llm/result.js';
import { systemPromptFor } from '../json-instruction.js';

/**
 * The provider-neutral request in the Chat Completions wire format, and its answers back: what
 * the openai provider (and every OpenAI-compatible server) is sent and returns.
 */

const STOP_REASONS: Record<string, StopReason> = { stop: 'end', length: 'max_tokens', content_filter: 'content_filter', tool_calls: 'tool_use', function_call: 'tool_use' };
export const stopReasonOf = (finish: string | null | undefined): StopReason => (finish ? STOP_REASONS[finish] : undefined) ?? 'other';

type Part = Record<string, unknown>;

export const dataUrl = (s: MediaSource): string => (s.kind === 'url' ? s.url : `data:${s.mediaType};base64,${s.data}`);

/** What of a request the Chat Completions format cannot carry, or undefined. */
export function openaiUnsupported(r: GenerationRequest): string | undefined {
  if (r.params.topK !== undefined) return 'top_k';
  for (const m of r.messages) {
    if (typeof m.content === 'string') continue;
    for (const b of m.content) {
      if (b.type === 'document' && b.source.kind === 'url') return 'a document given by URL (send it inline, base64)';
      if (b.type === 'document' && b.source.kind === 'base64' && b.source.mediaType !== 'application/pdf') return `a document of type ${b.source.mediaType}`;
    }
  }
  return undefined;
}

/** A budget of reasoning tokens as an effort, for a provider that only takes efforts. */
export function effortOf(r: Reasoning): string | undefined {
  if (r.effort) return r.effort === 'max' ? 'xhigh' : r.effort;
  if (r.budgetTokens === undefined) return undefined;
  return r.budgetTokens < 2048 ? 'low' : r.budgetTokens < 8192 ? 'medium' : 'high';
}

function part(b: ContentBlock): Part | undefined {
  switch (b.type) {
    case 'text': return { type: 'text', text: b.text };
    case 'image': return { type: 'image_url', image_url: { url: dataUrl(b.source), ...(b.detail ? { detail: b.detail } : {}) } };
    case 'audio': return { type: 'input_audio', input_audio: { data: b.data, format: b.format } };
    case 'document':
      if (b.source.kind === 'text') return { type: 'text', text: b.source.data };
      return { type: 'file', file: { file_data: dataUrl(b.source), ...(b.filename ?? b.title ? { filename: b.filename ?? b.title } : {}) } };
    default: return undefined;
  }
}

/** The parts of the blocks Chat Completions has parts for. */
const partsOf = (blocks: readonly ContentBlock[]): Part[] => blocks.flatMap((b) => {
  const p = part(b);
  return p ? [p] : [];
});

/** Parts that are all text as one string (what every server takes), else the parts. */
const contentOf = (parts: Part[]): string | Part[] => (parts.every((p) => p.type === 'text') ? parts.map((p) => p.text as string).join('') : parts);

/** One neutral message as Chat Completions messages: tool results become `tool` messages ahead of the user's own parts. */
function messagesOf(m: Message): Part[] {
  if (typeof m.content === 'string') return [{ role: m.role, content: m.content }];
  if (m.role === 'assistant') {
    const text = m.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
    const calls = m.content.flatMap((b) => (b.type === 'tool_call' ? [{ id: b.id, type: 'function', function: { name: b.name, arguments: b.arguments } }] : []));
    return [{ role: 'assistant', content: calls.length && !text ? null : text, ...(calls.length ? { tool_calls: calls } : {}) }];
  }
  const out: Part[] = [];
  for (const b of m.content) {
    if (b.type !== 'tool_result') continue;
    const content = typeof b.content === 'string' ? b.content : contentOf(partsOf(b.content));
    out.push({ role: 'tool', tool_call_id: b.toolCallId, content });
  }
  const parts = partsOf(m.content);
  if (parts.length || !out.length) out.push({ role: 'user', content: contentOf(parts) });
  return out;
}

/** The request as a Chat Completions body (without `stream`); `tokenLimitField` names the output-token limit. */
export function chatBody(req: Omit<GenerationRequest, 'provider'>, tokenLimitField: 'max_tokens' | 'max_completion_tokens') {
  const system = systemPromptFor({ system: systemText(req.system), ...(req.responseFormat ? { responseFormat: req.responseFormat } : {}) });
  const p = req.params;
  const choice = req.toolChoice;
  const effort = p.reasoning && effortOf(p.reasoning);
  return {
    model: req.model,
    messages: [...(system !== undefined ? [{ role: 'system', content: system }] : []), ...req.messages.flatMap(messagesOf)],
    [tokenLimitField]: p.maxTokens,
    ...(p.temperature !== undefined && { temperature: p.temperature }),
    ...(p.topP !== undefined && { top_p: p.topP }),
    ...(p.stop?.length && { stop: p.stop }),
    ...(p.seed !== undefined && { seed: p.seed }),
    ...(p.logprobs !== undefined && { logprobs: p.logprobs }),
    ...(p.topLogprobs !== undefined && { top_logprobs: p.topLogprobs }),
    ...(effort && { reasoning_effort: effort }),
    ...(req.tools && {
      tools: req.tools.map((t) => ({ type: 'function', function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.parameters, ...(t.strict !== undefined ? { strict: t.strict } : {}) } })),
    }),
    ...(choice !== undefined && { tool_choice: typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } } }),
    ...(req.parallelToolCalls !== undefined && { parallel_tool_calls: req.parallelToolCalls }),
  };
}

/** Chat Completions usage in neutral terms (prompt tokens include the cached ones, completion tokens the reasoning ones). */
export function usageOfChat(u: { prompt_tokens?: number; completion_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } | null; completion_tokens_details?: { reasoning_tokens?: number } | null } | null | undefined): Usage {
  return {
    inputTokens: u?.prompt_tokens ?? 0,
    outputTokens: u?.completion_tokens ?? 0,
    ...(u?.prompt_tokens_details?.cached_tokens ? { cacheReadTokens: u.prompt_tokens_details.cached_tokens } : {}),
    ...(u?.completion_tokens_details?.reasoning_tokens ? { reasoningTokens: u.completion_tokens_details.reasoning_tokens } : {}),
  };
}

/** An answer's blocks from a choice's message: its text, then its tool calls; undefined for text alone. */
export function blocksOfChoice(text: string, calls: { id: string; function: { name: string; arguments: string } }[] | undefined): OutputBlock[] | undefined {
  if (!calls?.length) return undefined;
  return [...(text ? [{ type: 'text' as const, text }] : []), ...calls.map((c) => ({ type: 'tool_call' as const, id: c.id, name: c.function.name, arguments: c.function.arguments }))];
}
