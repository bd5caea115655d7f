import { AppError } from '../../errors/app-error.js';
import { compactContent, type ContentBlock, type ImageBlock, type Message, type TextBlock } from '../../llm/message.js';
import { DEFAULT_MAX_TOKENS, type GenerationRequest, type ToolDefinition } from '../../llm/request.js';
import type { ProviderRegistry } from '../../providers/registry.js';
import { checkSchema } from '../../templates/output-schema.js';
import { mediaOfUrl, routeModel, type ContentPart } from '../translate.js';
import { reasoningOfItem } from './reasoning.js';
import type { ResponsesBody } from './schema.js';

type Item = ContentPart;

const str = (v: unknown): v is string => typeof v === 'string';
const bad = (where: string, what: string): never => { throw new AppError('bad_request', `${where} ${what}.`, { param: where }); };

/** One content part of an input message as a block. */
function partOf(p: Item, where: string): ContentBlock {
  switch (p.type) {
    case 'input_text':
    case 'output_text':
    case 'text':
      return str(p.text) ? { type: 'text', text: p.text } : bad(where, "has no string 'text'");
    case 'refusal':
      return str(p.refusal) ? { type: 'text', text: p.refusal } : bad(where, "has no string 'refusal'");
    case 'input_image': {
      if (p.file_id !== undefined && p.file_id !== null) bad(where, 'names a file_id: PromptLab keeps no files; send image_url (an http(s) or base64 data: URL)');
      if (!str(p.image_url)) return bad(where, 'is an input_image without image_url');
      const detail = p.detail === 'low' || p.detail === 'high' || p.detail === 'auto' ? { detail: p.detail as 'low' | 'high' | 'auto' } : {};
      return { type: 'image', source: mediaOfUrl(p.image_url, `${where}.image_url`), ...detail };
    }
    case 'input_file': {
      if (p.file_id !== undefined && p.file_id !== null) bad(where, 'names a file_id: PromptLab keeps no files; send file_data (a base64 data: URL)');
      if (str(p.file_url)) return { type: 'document', source: mediaOfUrl(p.file_url, `${where}.file_url`), ...(str(p.filename) ? { filename: p.filename } : {}) };
      if (!str(p.file_data)) return bad(where, 'is an input_file without file_data');
      const source = p.file_data.startsWith('data:') ? mediaOfUrl(p.file_data, `${where}.file_data`) : { kind: 'base64' as const, mediaType: 'application/pdf', data: p.file_data };
      return { type: 'document', source, ...(str(p.filename) ? { filename: p.filename } : {}) };
    }
    default:
      return bad(where, `is a content part of type '${String(p.type).slice(0, 40)}', which PromptLab does not take (input_text, input_image, input_file, output_text)`);
  }
}

const contentOf = (content: unknown, where: string): ContentBlock[] =>
  str(content) ? (content ? [{ type: 'text', text: content }] : [])
  : Array.isArray(content) ? content.map((p, i) => partOf(p as Item, `${where}[${i}]`))
  : bad(where, 'must be text or a list of content parts');

/** Adds blocks to the conversation: to the last message when it has the same role, else as a new message. */
function append(out: Message[], role: Message['role'], blocks: ContentBlock[], merge: boolean): void {
  const last = out.at(-1);
  if (merge && last?.role === role && typeof last.content !== 'string') last.content.push(...blocks);
  else out.push({ role, content: blocks });
}

/** The input items as neutral messages, and the system and developer messages' text. */
function itemsOf(input: ResponsesBody['input']): { system: string[]; messages: Message[] } {
  if (typeof input === 'string') return { system: [], messages: [{ role: 'user', content: input }] };
  const system: string[] = [];
  const messages: Message[] = [];
  input.forEach((raw, i) => {
    const item = raw as Item;
    const where = `input[${i}]`;
    const type = item.type ?? 'message';
    if (type === 'message') {
      const role = item.role;
      const blocks = contentOf(item.content, `${where}.content`);
      if (role === 'system' || role === 'developer') system.push(blocks.map((b) => (b.type === 'text' ? b.text : '')).join(''));
      else if (role === 'user' || role === 'assistant') append(messages, role, blocks, false);
      else bad(`${where}.role`, 'must be user, assistant, system or developer');
    } else if (type === 'function_call') {
      if (!str(item.call_id) || !str(item.name) || !str(item.arguments)) bad(where, 'is a function_call without call_id, name and arguments');
      append(messages, 'assistant', [{ type: 'tool_call', id: item.call_id as string, name: item.name as string, arguments: item.arguments as string }], true);
    } else if (type === 'function_call_output') {
      if (!str(item.call_id)) bad(where, 'is a function_call_output without call_id');
      const out = str(item.output) ? item.output : contentOf(item.output, `${where}.output`).filter((b): b is TextBlock | ImageBlock => b.type === 'text' || b.type === 'image');
      append(messages, 'user', [{ type: 'tool_result', toolCallId: item.call_id as string, content: out }], true);
    } else if (type === 'reasoning') {
      const block = reasoningOfItem(item);
      // Another server's encrypted reasoning means nothing to the providers behind PromptLab: dropped.
      if (block) append(messages, 'assistant', [block], true);
    } else {
      bad(`${where}.type`, `'${String(type).slice(0, 40)}' is an item type PromptLab does not take (message, function_call, function_call_output, reasoning)`);
    }
  });
  return { system, messages: messages.map((m) => ({ role: m.role, content: typeof m.content === 'string' ? m.content : compactContent(m.content) })) };
}

function toolsOf(tools: ResponsesBody['tools']): ToolDefinition[] | undefined {
  if (!tools?.length) return undefined;
  return tools.map((t, i) => {
    if (t.type !== 'function') bad(`tools[${i}].type`, `is '${t.type.slice(0, 40)}': PromptLab runs no built-in tools; send function tools`);
    const tool = t as Item;
    if (!str(tool.name)) bad(`tools[${i}].name`, 'is required');
    const parameters = (tool.parameters ?? { type: 'object', properties: {} }) as Record<string, unknown>;
    return { name: tool.name as string, ...(str(tool.description) ? { description: tool.description } : {}), parameters, ...(typeof tool.strict === 'boolean' ? { strict: tool.strict } : {}) };
  });
}

/**
 * A Responses body as a provider-neutral request: `instructions` and system/developer items as
 * `system`, the conversation before it (`previous_response_id`: its input and its answer) then
 * the input items as messages, function tools, `text.format` as `responseFormat`.
 */
export function responsesRequest(registry: ProviderRegistry, body: ResponsesBody, before: Message[] = []): GenerationRequest {
  const { provider, model } = routeModel(registry, body.model);
  const { system, messages } = itemsOf(body.input);
  const instructions = [...(body.instructions ? [body.instructions] : []), ...system];
  const f = body.text?.format;
  const schema = f?.type === 'json_schema' ? f.schema : f?.type === 'json_object' ? { type: 'object' } : undefined;
  if (f?.type === 'json_schema') checkSchema(schema, 'text.format.schema', 'bad_request', { param: 'text.format.schema' });
  const tools = toolsOf(body.tools);
  const choice = body.tool_choice;
  const all = [...before, ...messages];
  if (!all.length) bad('input', 'must hold at least one message');
  return {
    provider, model,
    ...(instructions.length ? { system: instructions.join('\n\n') } : {}),
    messages: all,
    params: {
      maxTokens: body.max_output_tokens ?? DEFAULT_MAX_TOKENS,
      ...(body.temperature != null ? { temperature: body.temperature } : {}),
      ...(body.top_p != null ? { topP: body.top_p } : {}),
      ...(body.top_logprobs != null ? { logprobs: true, topLogprobs: body.top_logprobs } : {}),
      ...(body.reasoning?.effort ? { reasoning: { effort: body.reasoning.effort } } : {}),
    },
    ...(schema ? { responseFormat: { type: 'json_schema', schema } } : {}),
    ...(tools ? { tools } : {}),
    ...(choice !== undefined ? { toolChoice: typeof choice === 'string' ? choice : { name: choice.name } } : {}),
    ...(body.parallel_tool_calls != null ? { parallelToolCalls: body.parallel_tool_calls } : {}),
  };
}

/** The end user and metadata a Responses call names: kept on its job, not part of its input. */
export const responsesAnnotations = (body: ResponsesBody) => ({
  ...(body.user ?? body.safety_identifier ? { endUser: (body.user ?? body.safety_identifier)! } : {}),
  ...(body.metadata ? { metadata: body.metadata } : {}),
});
