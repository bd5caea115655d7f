import { AppError } from '../../errors/app-error.js';
import { compactContent, type CacheControl, type ContentBlock, type MediaSource, type TextBlock } from '../../llm/message.js';
import type { GenerationRequest, Reasoning, ToolChoice } from '../../llm/request.js';
import type { ProviderRegistry } from '../../providers/registry.js';
import { checkSchema } from '../../templates/output-schema.js';
import { assertMessages, routeModel, type ContentPart } from '../translate.js';
import type { CountTokensBody, MessagesBody } from './schema.js';

type Raw = ContentPart;

const str = (v: unknown): v is string => typeof v === 'string';
const cacheOf = (b: Raw): { cacheControl?: CacheControl } => {
  const c = b.cache_control as CacheControl | undefined;
  return c && c.type === 'ephemeral' ? { cacheControl: c.ttl ? { type: 'ephemeral', ttl: c.ttl } : { type: 'ephemeral' } } : {};
};

/** Block fields that change nothing PromptLab keeps: accepted and dropped. */
const IGNORED = new Set(['type', 'cache_control', 'citations', 'context']);

function sourceOf(s: unknown, where: string, kinds: 'image' | 'document'): MediaSource | { kind: 'text'; mediaType: 'text/plain'; data: string } {
  const src = s as { type?: unknown; media_type?: unknown; data?: unknown; url?: unknown } | undefined;
  if (src?.type === 'base64' && str(src.media_type) && str(src.data)) return { kind: 'base64', mediaType: src.media_type, data: src.data };
  if (src?.type === 'url' && str(src.url) && /^https?:\/\//.test(src.url)) return { kind: 'url', url: src.url };
  if (kinds === 'document' && src?.type === 'text' && str(src.data)) return { kind: 'text', mediaType: 'text/plain', data: src.data };
  const file = src?.type === 'file' ? ' (PromptLab keeps no files: send the bytes, base64)' : '';
  throw new AppError('bad_request', `${where}.source must be base64${kinds === 'document' ? ', text' : ''} or an http(s) url${file}.`, { param: `${where}.source` });
}

/** One Messages content block as a neutral block; a 400 naming the block when PromptLab does not take it. */
function blockOf(b: Raw, where: string): ContentBlock {
  const bad = (what: string): never => { throw new AppError('bad_request', `${where} ${what}.`, { param: where }); };
  switch (b.type) {
    case 'text':
      return str(b.text) ? { type: 'text', text: b.text, ...cacheOf(b) } : bad("is a text block without a string 'text'");
    case 'image': {
      const source = sourceOf(b.source, where, 'image') as MediaSource;
      return { type: 'image', source, ...cacheOf(b) };
    }
    case 'document':
      return { type: 'document', source: sourceOf(b.source, where, 'document'), ...(str(b.title) ? { title: b.title } : {}), ...cacheOf(b) };
    case 'tool_use':
      if (!str(b.id) || !str(b.name)) return bad('is a tool_use block without id and name');
      return { type: 'tool_call', id: b.id, name: b.name, arguments: JSON.stringify(b.input ?? {}) };
    case 'tool_result': {
      if (!str(b.tool_use_id)) return bad('is a tool_result block without tool_use_id');
      const raw = b.content ?? '';
      const content = str(raw) ? raw : Array.isArray(raw) ? raw.map((x, i) => blockOf(x as Raw, `${where}.content[${i}]`)) : bad('has content that is neither text nor blocks');
      if (typeof content !== 'string' && content.some((x) => x.type !== 'text' && x.type !== 'image')) bad('may hold only text and image blocks');
      return { type: 'tool_result', toolCallId: b.tool_use_id, content: content as string | TextBlock[], ...(b.is_error === true ? { isError: true } : {}), ...cacheOf(b) };
    }
    case 'thinking':
      return str(b.thinking) ? { type: 'thinking', thinking: b.thinking, ...(str(b.signature) ? { signature: b.signature } : {}) } : bad("is a thinking block without 'thinking'");
    case 'redacted_thinking':
      return str(b.data) ? { type: 'redacted_thinking', data: b.data } : bad("is a redacted_thinking block without 'data'");
    default:
      return bad(`is a content block of type '${String(b.type).slice(0, 40)}', which PromptLab does not take (text, image, document, tool_use, tool_result, thinking, redacted_thinking)`);
  }
}

const contentOf = (content: string | Raw[], where: string) =>
  typeof content === 'string' ? content : compactContent(content.map((b, i) => {
    const unknown = b.type === 'text' ? Object.keys(b).find((k) => k !== 'text' && !IGNORED.has(k)) : undefined;
    if (unknown) throw new AppError('bad_request', `${where}[${i}] is not a text block: it needs a string 'text' and no '${unknown}'.`, { param: `${where}[${i}]` });
    return blockOf(b, `${where}[${i}]`);
  }));

/** The system prompt: text, or text blocks kept as blocks when one carries a cache breakpoint. */
function systemOf(system: string | Raw[] | undefined): GenerationRequest['system'] {
  if (system === undefined || typeof system === 'string') return system || undefined;
  const blocks = system.map((b, i) => {
    const x = blockOf(b, `system[${i}]`);
    if (x.type !== 'text') throw new AppError('bad_request', `system[${i}] must be a text block.`, { param: `system[${i}]` });
    return x;
  });
  if (!blocks.length) return undefined;
  return blocks.some((b) => b.cacheControl) ? blocks : blocks.map((b) => b.text).join('');
}

function choiceOf(c: MessagesBody['tool_choice']): { toolChoice?: ToolChoice; parallelToolCalls?: boolean } {
  if (!c) return {};
  const parallel = c.disable_parallel_tool_use ? { parallelToolCalls: false } : {};
  if (c.type === 'tool') {
    if (!c.name) throw new AppError('bad_request', 'tool_choice of type tool needs a name.', { param: 'tool_choice.name' });
    return { toolChoice: { name: c.name }, ...parallel };
  }
  return { toolChoice: c.type === 'any' ? 'required' : c.type, ...parallel };
}

function reasoningOf(body: Pick<MessagesBody, 'thinking' | 'output_config'>): Reasoning | undefined {
  const effort = body.output_config?.effort ?? undefined;
  const budget = body.thinking?.type === 'enabled' ? body.thinking.budget_tokens : undefined;
  const r: Reasoning = { ...(effort ? { effort } : {}), ...(budget !== undefined ? { budgetTokens: budget } : {}), ...(body.thinking?.type === 'disabled' ? { effort: 'none' } : {}) };
  return Object.keys(r).length ? r : undefined;
}

/** A Messages body (or a count_tokens body, with `max_tokens` 1) as a provider-neutral request. */
export function messagesRequest(registry: ProviderRegistry, body: MessagesBody | (CountTokensBody & { max_tokens?: number })): GenerationRequest {
  const { provider, model } = routeModel(registry, body.model);
  const system = systemOf(body.system);
  const format = body.output_config?.format ?? undefined;
  if (format) checkSchema(format.schema, 'output_config.format.schema', 'bad_request', { param: 'output_config.format.schema' });
  for (const [i, t] of (body.tools ?? []).entries()) {
    if (t.input_schema.type !== 'object') throw new AppError('bad_request', `tools[${i}].input_schema must be an object schema ("type": "object").`, { param: `tools[${i}].input_schema` });
  }
  const reasoning = reasoningOf(body);
  const full = body as Partial<MessagesBody>;
  return {
    provider, model,
    ...(system ? { system } : {}),
    messages: assertMessages(body.messages.map((m, i) => ({ role: m.role, content: contentOf(m.content as string | Raw[], `messages[${i}].content`) }))),
    params: {
      maxTokens: full.max_tokens ?? 1,
      ...(full.temperature !== undefined ? { temperature: full.temperature } : {}),
      ...(full.top_p !== undefined ? { topP: full.top_p } : {}),
      ...(full.top_k !== undefined ? { topK: full.top_k } : {}),
      ...(full.stop_sequences?.length ? { stop: full.stop_sequences } : {}),
      ...(reasoning ? { reasoning } : {}),
    },
    ...(format ? { responseFormat: { type: 'json_schema', schema: format.schema } } : {}),
    ...(body.tools?.length ? {
      tools: body.tools.map((t) => ({
        name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.input_schema,
        ...(t.strict !== undefined ? { strict: t.strict } : {}), ...(t.cache_control ? { cacheControl: t.cache_control } : {}),
      })),
    } : {}),
    ...choiceOf(body.tool_choice),
  };
}

/** The end user a Messages call names (`metadata.user_id`): kept on its job, not part of its input. */
export const messagesAnnotations = (body: MessagesBody) => (body.metadata?.user_id ? { endUser: body.metadata.user_id } : {});
