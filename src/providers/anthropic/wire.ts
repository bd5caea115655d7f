import type { CacheControl, ContentBlock, MediaSource, Message, OutputBlock } from '../../llm/message.js';
import type { GenerationRequest } from '../../llm/request.js';
import type { StopReason, Usage } from '../../llm/result.js';
import { systemPromptFor } from '../json-instruction.js';

/**
 * The provider-neutral request in the Messages wire format, and its answers back: what the
 * anthropic provider is sent and returns.
 */

const STOP_REASONS: Record<string, StopReason> = {
  end_turn: 'end', stop_sequence: 'end', max_tokens: 'max_tokens', model_context_window_exceeded: 'max_tokens',
  tool_use: 'tool_use', refusal: 'refusal', pause_turn: 'other',
};
export const stopReasonOf = (stop: string | null | undefined): StopReason => (stop ? STOP_REASONS[stop] : undefined) ?? 'other';

type Block = Record<string, unknown>;

const cache = (c: CacheControl | undefined) => (c ? { cache_control: c } : {});
const source = (s: MediaSource) => (s.kind === 'url' ? { type: 'url', url: s.url } : { type: 'base64', media_type: s.mediaType, data: s.data });

/** The efforts Anthropic's `output_config.effort` takes. */
const EFFORTS = new Set(['low', 'medium', 'high', 'xhigh', 'max']);

/** What of a request the Messages format cannot carry, or undefined. */
export function anthropicUnsupported(r: GenerationRequest): string | undefined {
  if (r.params.seed !== undefined) return 'seed';
  if (r.params.logprobs || r.params.topLogprobs !== undefined) return 'logprobs';
  for (const m of r.messages) {
    if (typeof m.content === 'string') continue;
    for (const b of m.content) if (b.type === 'audio') return 'audio input';
  }
  for (const t of r.tools ?? []) {
    if (t.parameters.type !== 'object') return `tool ${t.name}: parameters that are not an object schema`;
  }
  return undefined;
}

function block(b: ContentBlock): Block | undefined {
  switch (b.type) {
    case 'text': return { type: 'text', text: b.text, ...cache(b.cacheControl) };
    case 'image': return { type: 'image', source: source(b.source), ...cache(b.cacheControl) };
    case 'document': {
      const src = b.source.kind === 'text' ? { type: 'text', media_type: 'text/plain', data: b.source.data } : source(b.source);
      return { type: 'document', source: src, ...(b.title ? { title: b.title } : {}), ...cache(b.cacheControl) };
    }
    case 'tool_call': return { type: 'tool_use', id: b.id, name: b.name, input: argumentsObject(b.arguments) };
    case 'tool_result': {
      const content = typeof b.content === 'string' ? b.content : b.content.flatMap((x) => block(x) ?? []);
      return { type: 'tool_result', tool_use_id: b.toolCallId, content, ...(b.isError ? { is_error: true } : {}), ...cache(b.cacheControl) };
    }
    case 'thinking': return { type: 'thinking', thinking: b.thinking, signature: b.signature ?? '' };
    case 'redacted_thinking': return { type: 'redacted_thinking', data: b.data };
    default: return undefined;
  }
}

/** A tool call's JSON arguments as the object Anthropic's `input` is; text that is not an object becomes `{}`. */
function argumentsObject(args: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(args || '{}');
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const messageOf = (m: Message) => ({ role: m.role, content: typeof m.content === 'string' ? m.content : m.content.flatMap((b) => block(b) ?? []) });

/** The request as a Messages body (without `stream`). */
export function messagesBody(req: Omit<GenerationRequest, 'provider'>) {
  const p = req.params;
  const system = typeof req.system === 'object' && !req.responseFormat
    ? req.system.map((b) => ({ type: 'text', text: b.text, ...cache(b.cacheControl) }))
    : systemPromptFor({ system: typeof req.system === 'object' ? req.system.map((b) => b.text).join('\n\n') : req.system, ...(req.responseFormat ? { responseFormat: req.responseFormat } : {}) });
  const choice = req.toolChoice;
  const noParallel = req.parallelToolCalls === false ? { disable_parallel_tool_use: true } : {};
  const toolChoice = choice === undefined ? (req.parallelToolCalls === false && req.tools ? { type: 'auto', ...noParallel } : undefined)
    : choice === 'none' ? { type: 'none' }
    : choice === 'auto' ? { type: 'auto', ...noParallel }
    : choice === 'required' ? { type: 'any', ...noParallel }
    : { type: 'tool', name: choice.name, ...noParallel };
  const effort = p.reasoning?.effort === 'minimal' ? 'low' : p.reasoning?.effort;
  return {
    model: req.model,
    max_tokens: p.maxTokens,
    messages: req.messages.map(messageOf),
    ...(system !== undefined && { system }),
    ...(p.temperature !== undefined && { temperature: p.temperature }),
    ...(p.topP !== undefined && { top_p: p.topP }),
    ...(p.topK !== undefined && { top_k: p.topK }),
    ...(p.stop?.length && { stop_sequences: p.stop }),
    ...(p.reasoning?.budgetTokens !== undefined && { thinking: { type: 'enabled', budget_tokens: p.reasoning.budgetTokens } }),
    ...(effort === 'none' && { thinking: { type: 'disabled' } }),
    ...(effort && EFFORTS.has(effort) && { output_config: { effort } }),
    ...(req.tools && {
      tools: req.tools.map((t) => ({ name: t.name, ...(t.description ? { description: t.description } : {}), input_schema: t.parameters, ...cache(t.cacheControl) })),
    }),
    ...(toolChoice && { tool_choice: toolChoice }),
  };
}

/** Messages usage in neutral terms: Anthropic counts cache reads and writes apart from `input_tokens`; here they are part of the input. */
export function usageOfMessage(u: { input_tokens?: number | null; output_tokens?: number | null; cache_read_input_tokens?: number | null; cache_creation_input_tokens?: number | null }): Usage {
  const read = u.cache_read_input_tokens ?? 0;
  const write = u.cache_creation_input_tokens ?? 0;
  return {
    inputTokens: (u.input_tokens ?? 0) + read + write,
    outputTokens: u.output_tokens ?? 0,
    ...(read ? { cacheReadTokens: read } : {}),
    ...(write ? { cacheWriteTokens: write } : {}),
  };
}

/** A content block of an answer in neutral terms (undefined for one PromptLab does not keep, e.g. server tool results). */
export function outputBlockOf(b: { type: string; [k: string]: unknown }): OutputBlock | undefined {
  switch (b.type) {
    case 'text': return { type: 'text', text: b.text as string };
    case 'tool_use': return { type: 'tool_call', id: b.id as string, name: b.name as string, arguments: JSON.stringify(b.input ?? {}) };
    case 'thinking': return { type: 'thinking', thinking: b.thinking as string, ...(b.signature ? { signature: b.signature as string } : {}) };
    case 'redacted_thinking': return { type: 'redacted_thinking', data: b.data as string };
    default: return undefined;
  }
}
