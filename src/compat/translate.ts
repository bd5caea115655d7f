/** What the OpenAI and Anthropic formats share: model routing, text content, the checks every compat request passes. */
import type { Config } from '../config/index.js';
import { AppError } from '../errors/app-error.js';
import type { Message } from '../generation/request.js';
import { registryOf } from '../providers/registry.js';

/** The provider and model a compat request's `model` names (`ProviderRegistry.routeModel`); 400 `unknown_model` otherwise. */
export function routeModel(config: Config, name: string): { provider: string; model: string } {
  const routed = registryOf(config).routeModel(name);
  if (!routed) {
    throw new AppError('unknown_model', `No provider serves the model '${name}': use a claude-*, gpt-*, o1/o3/o4*, fake-* model, a PROVIDERS_JSON model, or provider/model (GET /v1/models lists them).`, { param: 'model' });
  }
  return routed;
}

/** Text content: a string, or text blocks joined. */
export const textOf = (content: string | { text: string }[]): string =>
  typeof content === 'string' ? content : content.map((b) => b.text).join('');

/** A request needs at least one user or assistant message. */
export function assertMessages(messages: Message[]): Message[] {
  if (!messages.length) throw new AppError('bad_request', 'messages must hold at least one user or assistant message.', { param: 'messages' });
  return messages;
}

/** What a compat answer is made of, whichever format renders it. */
export interface CompatAnswer {
  jobId: string;
  model: string;
  text: string;
  inputTokens: number;
  outputTokens: number;
}
