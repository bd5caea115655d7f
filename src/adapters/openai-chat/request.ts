import { DEFAULT_MAX_TOKENS, type GenerationRequest } from '../../llm/request.js';
import type { ProviderRegistry } from '../../providers/registry.js';
import { checkSchema } from '../../templates/output-schema.js';
import { assertMessages, routeModel, textOf } from '../translate.js';
import type { ChatCompletionBody } from './schema.js';

/**
 * A Chat Completions body as a provider-neutral request: system and developer messages
 * joined into `system`, `json_schema` as `responseFormat`, `json_object` as a schema of any
 * object, `text` as none.
 */
export function chatRequest(registry: ProviderRegistry, body: ChatCompletionBody): GenerationRequest {
  const { provider, model } = routeModel(registry, body.model);
  const system = body.messages.flatMap((m, i) => (m.role === 'system' || m.role === 'developer' ? [textOf(m.content, `messages[${i}].content`)] : []));
  const messages = assertMessages(body.messages.flatMap((m, i) =>
    m.role === 'user' || m.role === 'assistant' ? [{ role: m.role, content: textOf(m.content, `messages[${i}].content`) }] : []));
  const rf = body.response_format;
  const schema = rf?.type === 'json_schema' ? (rf.json_schema.schema ?? {}) : rf?.type === 'json_object' ? { type: 'object' } : undefined;
  // Compiled before anything is paid: a schema the worker could not check the answer against is a 400 now, not a dead job.
  if (rf?.type === 'json_schema') checkSchema(schema, 'response_format.json_schema.schema', 'bad_request', { param: 'response_format.json_schema.schema' });
  const stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
  return {
    provider, model,
    ...(system.length ? { system: system.join('\n\n') } : {}),
    messages,
    params: {
      maxTokens: body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_MAX_TOKENS,
      ...(body.temperature !== undefined ? { temperature: body.temperature } : {}),
      ...(body.top_p !== undefined ? { topP: body.top_p } : {}),
      ...(stop?.length ? { stop } : {}),
    },
    ...(schema ? { responseFormat: { type: 'json_schema', schema } } : {}),
  };
}
