import type { GenerationRequest } from '../../llm/request.js';
import type { ProviderRegistry } from '../../providers/registry.js';
import { assertMessages, routeModel, textOf } from '../translate.js';
import type { MessagesBody } from './schema.js';

/** A Messages body as a provider-neutral request. */
export function messagesRequest(registry: ProviderRegistry, body: MessagesBody): GenerationRequest {
  const { provider, model } = routeModel(registry, body.model);
  const system = body.system === undefined ? '' : textOf(body.system, 'system', ['cache_control']);
  return {
    provider, model,
    ...(system ? { system } : {}),
    messages: assertMessages(body.messages.map((m, i) => ({ role: m.role, content: textOf(m.content, `messages[${i}].content`, ['cache_control']) }))),
    params: {
      maxTokens: body.max_tokens,
      ...(body.temperature !== undefined ? { temperature: body.temperature } : {}),
      ...(body.top_p !== undefined ? { topP: body.top_p } : {}),
      ...(body.stop_sequences?.length ? { stop: body.stop_sequences } : {}),
    },
  };
}
