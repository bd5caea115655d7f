/** What the OpenAI and Anthropic formats share: model routing, text content, the checks every compat request passes. */
import { AppError } from '../errors/app-error.js';
import type { MediaSource, Message } from '../llm/message.js';
import type { ProviderRegistry } from '../providers/registry.js';

/** The provider and model a compat request's `model` names (`ProviderRegistry.routeModel`); 400 `unknown_model` otherwise. */
export function routeModel(registry: ProviderRegistry, name: string): { provider: string; model: string } {
  const routed = registry.routeModel(name);
  if (!routed) {
    throw new AppError('unknown_model', `No provider serves the model '${name}'; ${registry.answeringModels()}.`, { param: 'model' });
  }
  return routed;
}

/** A content part as the routes' schemas take it: any `type`, checked by `textOf` so an error can name it. */
export type ContentPart = { type: string; [field: string]: unknown };

/**
 * Text content: a string, or text parts joined. A part of another type is a 400 naming the part
 * and its type (`where` is its field, e.g. `messages[0].content`), not a schema error about strings.
 */
export function textOf(content: string | ContentPart[], where: string, extra: readonly string[] = []): string {
  if (typeof content === 'string') return content;
  return content.map((part, i) => {
    if (part.type !== 'text') {
      throw new AppError('bad_request', `${where}[${i}] is a content part of type '${String(part.type).slice(0, 40)}', which PromptLab does not take yet; send text parts.`, { param: `${where}[${i}].type` });
    }
    const unknown = Object.keys(part).find((k) => k !== 'type' && k !== 'text' && !extra.includes(k));
    if (typeof part.text !== 'string' || unknown) {
      throw new AppError('bad_request', `${where}[${i}] is not a text part: it needs a string 'text'${unknown ? ` and no '${unknown}'` : ''}.`, { param: `${where}[${i}]` });
    }
    return part.text;
  }).join('');
}

/** A request needs at least one user or assistant message. */
export function assertMessages(messages: Message[]): Message[] {
  if (!messages.length) throw new AppError('bad_request', 'messages must hold at least one user or assistant message.', { param: 'messages' });
  return messages;
}

/** The head of a base64 `data:` URL, with its media type. */
const DATA_URL = /^data:([\w.+-]+\/[\w.+-]+);base64,/;

/** An image or file URL of a content part as a media source: `data:<type>;base64,…` inline, else an http(s) URL; a 400 naming `where` otherwise. */
export function mediaOfUrl(url: string, where: string): MediaSource {
  const m = DATA_URL.exec(url);
  if (m) return { kind: 'base64', mediaType: m[1]!, data: url.slice(m[0].length) };
  if (/^https?:\/\//.test(url)) return { kind: 'url', url };
  throw new AppError('bad_request', `${where} must be an http(s) URL or a base64 data: URL.`, { param: where });
}
