import { AppError } from '../../errors/app-error.js';
import { compactContent, type ContentBlock, type Message, type TextBlock, type ToolResultBlock } from '../../llm/message.js';
import { DEFAULT_MAX_TOKENS, type GenerationRequest, type ToolChoice } from '../../llm/request.js';
import type { ProviderRegistry } from '../../providers/registry.js';
import { checkSchema } from '../../templates/output-schema.js';
import { assertMessages, mediaOfUrl, routeModel, textOf, type ContentPart } from '../translate.js';
import type { ChatCompletionBody } from './schema.js';

type ChatMessage = ChatCompletionBody['messages'][number];

const str = (v: unknown): v is string => typeof v === 'string';

/** One content part as a block: a 400 naming the part when it is not one PromptLab takes. */
function blockOf(part: ContentPart, where: string): ContentBlock {
  const bad = (what: string): never => { throw new AppError('bad_request', `${where} ${what}.`, { param: where }); };
  switch (part.type) {
    case 'text':
      return str(part.text) ? { type: 'text', text: part.text } : bad("is a text part without a string 'text'");
    case 'image_url': {
      const img = part.image_url as { url?: unknown; detail?: unknown } | undefined;
      if (!str(img?.url)) return bad("is an image_url part without image_url.url");
      const detail = img.detail === 'low' || img.detail === 'high' || img.detail === 'auto' ? { detail: img.detail as 'low' | 'high' | 'auto' } : {};
      return { type: 'image', source: mediaOfUrl(img.url, `${where}.image_url.url`), ...detail };
    }
    case 'input_audio': {
      const a = part.input_audio as { data?: unknown; format?: unknown } | undefined;
      return str(a?.data) && str(a.format) ? { type: 'audio', data: a.data, format: a.format } : bad('is an input_audio part without input_audio.data and .format');
    }
    case 'file': {
      const f = part.file as { file_data?: unknown; file_id?: unknown; filename?: unknown } | undefined;
      if (f?.file_id !== undefined) bad('names a file_id: PromptLab keeps no files; send file_data (a base64 data: URL)');
      if (!str(f?.file_data)) return bad('is a file part without file.file_data');
      const source = f.file_data.startsWith('data:') ? mediaOfUrl(f.file_data, `${where}.file.file_data`) : { kind: 'base64' as const, mediaType: 'application/pdf', data: f.file_data };
      return { type: 'document', source, ...(str(f.filename) ? { filename: f.filename } : {}) };
    }
    default:
      return bad(`is a content part of type '${String(part.type).slice(0, 40)}', which PromptLab does not take (text, image_url, input_audio, file)`);
  }
}

function contentBlocks(content: ChatMessage['content'], where: string): ContentBlock[] {
  if (content == null) return [];
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  return content.map((p, i) => blockOf(p as ContentPart, `${where}[${i}]`));
}

/** Tool results: `tool` messages in a row become one user message of tool_result blocks. */
function toolResult(m: ChatMessage, i: number): ToolResultBlock {
  if (!m.tool_call_id) throw new AppError('bad_request', `messages[${i}] is a tool message without tool_call_id.`, { param: `messages[${i}].tool_call_id` });
  const blocks = contentBlocks(m.content, `messages[${i}].content`);
  const content = blocks.every((b) => b.type === 'text') ? blocks.map((b) => (b as TextBlock).text).join('') : (blocks as TextBlock[]);
  return { type: 'tool_result', toolCallId: m.tool_call_id, content };
}

/** The conversation without its system and developer messages, in neutral messages. */
function conversation(messages: ChatMessage[]): Message[] {
  const out: Message[] = [];
  messages.forEach((m, i) => {
    const where = `messages[${i}].content`;
    if (m.role === 'system' || m.role === 'developer') return;
    if (m.role === 'tool') {
      const last = out.at(-1);
      const block = toolResult(m, i);
      if (last?.role === 'user' && typeof last.content !== 'string' && last.content.every((b) => b.type === 'tool_result')) last.content.push(block);
      else out.push({ role: 'user', content: [block] });
      return;
    }
    if (m.tool_calls && m.role !== 'assistant') throw new AppError('bad_request', `messages[${i}] has tool_calls but is not an assistant message.`, { param: `messages[${i}].tool_calls` });
    const blocks = contentBlocks(m.role === 'assistant' && Array.isArray(m.content) ? m.content.filter((p) => p.type !== 'refusal') : m.content, where);
    for (const c of m.tool_calls ?? []) blocks.push({ type: 'tool_call', id: c.id, name: c.function.name, arguments: c.function.arguments });
    if (m.role === 'user' && !blocks.length && m.content == null) throw new AppError('bad_request', `${where} is required for a user message.`, { param: where });
    out.push({ role: m.role, content: compactContent(blocks) });
  });
  return assertMessages(out);
}

const choiceOf = (c: ChatCompletionBody['tool_choice']): ToolChoice | undefined =>
  c === undefined ? undefined : typeof c === 'string' ? c : { name: c.function.name };

/**
 * A Chat Completions body as a provider-neutral request: system and developer messages joined
 * into `system`, `tool` messages as tool results, content parts as blocks, `json_schema` as
 * `responseFormat`, `json_object` as a schema of any object, `text` as none.
 */
export function chatRequest(registry: ProviderRegistry, body: ChatCompletionBody): GenerationRequest {
  const { provider, model } = routeModel(registry, body.model);
  if (body.n !== undefined && body.n !== 1) {
    throw new AppError('bad_request', 'n must be 1: a call is one job with one answer; for several answers send several calls with different seeds.', { param: 'n' });
  }
  const system = body.messages.flatMap((m, i) => (m.role === 'system' || m.role === 'developer' ? [textOf(m.content ?? '', `messages[${i}].content`)] : []));
  const rf = body.response_format;
  const schema = rf?.type === 'json_schema' ? (rf.json_schema.schema ?? {}) : rf?.type === 'json_object' ? { type: 'object' } : undefined;
  // Compiled before anything is paid: a schema the worker could not check the answer against is a 400 now, not a dead job.
  if (rf?.type === 'json_schema') checkSchema(schema, 'response_format.json_schema.schema', 'bad_request', { param: 'response_format.json_schema.schema' });
  const stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
  const toolChoice = choiceOf(body.tool_choice);
  return {
    provider, model,
    ...(system.length ? { system: system.join('\n\n') } : {}),
    messages: conversation(body.messages),
    params: {
      maxTokens: body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_MAX_TOKENS,
      ...(body.temperature !== undefined ? { temperature: body.temperature } : {}),
      ...(body.top_p !== undefined ? { topP: body.top_p } : {}),
      ...(stop?.length ? { stop } : {}),
      ...(body.seed !== undefined ? { seed: body.seed } : {}),
      ...(body.logprobs ? { logprobs: true } : {}),
      ...(body.top_logprobs !== undefined ? { topLogprobs: body.top_logprobs } : {}),
      ...(body.reasoning_effort ? { reasoning: { effort: body.reasoning_effort } } : {}),
    },
    ...(schema ? { responseFormat: { type: 'json_schema', schema } } : {}),
    ...(body.tools?.length ? {
      tools: body.tools.map((t) => ({
        name: t.function.name, ...(t.function.description ? { description: t.function.description } : {}),
        parameters: t.function.parameters ?? { type: 'object', properties: {} }, ...(t.function.strict != null ? { strict: t.function.strict } : {}),
      })),
    } : {}),
    ...(toolChoice !== undefined ? { toolChoice } : {}),
    ...(body.parallel_tool_calls !== undefined ? { parallelToolCalls: body.parallel_tool_calls } : {}),
  };
}

/** The end user and metadata a Chat Completions call names: kept on its job, not part of its input. */
export const chatAnnotations = (body: ChatCompletionBody) => ({
  ...(body.user ?? body.safety_identifier ? { endUser: (body.user ?? body.safety_identifier)! } : {}),
  ...(body.metadata ? { metadata: body.metadata } : {}),
});
