/** Who wrote a message; the system prompt is `GenerationRequest.system`, never a message. Tool results travel in user messages. */
export type Role = 'user' | 'assistant';

/** A provider-side prompt-cache breakpoint (Anthropic's `cache_control`); providers without one ignore it. */
export interface CacheControl {
  type: 'ephemeral';
  ttl?: '5m' | '1h';
}

/** A piece of text in a message. */
export interface TextBlock {
  type: 'text';
  text: string;
  cacheControl?: CacheControl;
}

/** Where an image's or a document's bytes are: inline (base64, as sent) or at a URL the provider fetches. */
export type MediaSource = { kind: 'base64'; mediaType: string; data: string } | { kind: 'url'; url: string };

export interface ImageBlock {
  type: 'image';
  source: MediaSource;
  /** OpenAI's `detail`; other providers ignore it. */
  detail?: 'auto' | 'low' | 'high';
  cacheControl?: CacheControl;
}

/** A document (a PDF, or plain text) the model reads. */
export interface DocumentBlock {
  type: 'document';
  source: MediaSource | { kind: 'text'; mediaType: 'text/plain'; data: string };
  title?: string;
  filename?: string;
  cacheControl?: CacheControl;
}

/** Audio input (OpenAI's `input_audio`). */
export interface AudioBlock {
  type: 'audio';
  format: string;
  data: string;
}

/** The model asking for a tool: `arguments` is the JSON text of its input, as the model wrote it. */
export interface ToolCallBlock {
  type: 'tool_call';
  id: string;
  name: string;
  arguments: string;
}

/** What a tool returned, sent back in a user message. */
export interface ToolResultBlock {
  type: 'tool_result';
  toolCallId: string;
  content: string | (TextBlock | ImageBlock)[];
  isError?: boolean;
  cacheControl?: CacheControl;
}

/** The model's visible reasoning (Anthropic `thinking`); `signature` must come back unchanged in later turns. */
export interface ThinkingBlock {
  type: 'thinking';
  thinking: string;
  signature?: string;
}

/** Reasoning the provider encrypted; passed back as it came. */
export interface RedactedThinkingBlock {
  type: 'redacted_thinking';
  data: string;
}

/** One block of a message's content, each with its own `type`. */
export type ContentBlock = TextBlock | ImageBlock | DocumentBlock | AudioBlock | ToolCallBlock | ToolResultBlock | ThinkingBlock | RedactedThinkingBlock;

/** The blocks a model answers with. */
export type OutputBlock = TextBlock | ToolCallBlock | ThinkingBlock | RedactedThinkingBlock;

/**
 * A message's content: a string when it is text alone (what every text-only request stores and
 * hashes, so their input hashes stay what they were), or blocks.
 */
export type Content = string | ContentBlock[];

export interface Message {
  role: Role;
  content: Content;
}

/** The text of a message's content: the string, or its text blocks joined. */
export const textOf = (content: Content): string =>
  typeof content === 'string' ? content : content.map((b) => (b.type === 'text' ? b.text : '')).join('');

/**
 * The text of the `prompt` column, kept for readers of old rows: the one user message's
 * content, or every message as `role: content` lines.
 */
export function promptOf(messages: readonly Message[]): string {
  if (messages.length === 1 && messages[0]!.role === 'user') return textOf(messages[0]!.content);
  return messages.map((m) => `${m.role}: ${textOf(m.content)}`).join('\n');
}

/** A message's content as blocks (a string is one text block). */
export const blocksOf = (content: Content): ContentBlock[] => (typeof content === 'string' ? (content ? [{ type: 'text', text: content }] : []) : content);

/** Content with no block but text, and no cache breakpoint, back to a string: how text-only messages are stored and hashed. */
export function compactContent(blocks: ContentBlock[]): Content {
  return blocks.every((b) => b.type === 'text' && !b.cacheControl) ? blocks.map((b) => (b as TextBlock).text).join('') : blocks;
}

/** About how many characters the inline payload of messages weighs (text, and base64 media): enough to tell a large request. */
export function payloadChars(messages: readonly Message[]): number {
  let n = 0;
  for (const m of messages) {
    if (typeof m.content === 'string') {
      n += m.content.length;
      continue;
    }
    for (const b of m.content) {
      if (b.type === 'text') n += b.text.length;
      else if (b.type === 'image' || b.type === 'document') n += b.source.kind === 'url' ? b.source.url.length : b.source.data.length;
      else if (b.type === 'audio') n += b.data.length;
      else if (b.type === 'tool_result') n += typeof b.content === 'string' ? b.content.length : payloadChars([{ role: 'user', content: b.content }]);
      else if (b.type === 'tool_call') n += b.arguments.length;
    }
  }
  return n;
}
