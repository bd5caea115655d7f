/** Who wrote a message; the system prompt is `GenerationRequest.system`, never a message. */
export type Role = 'user' | 'assistant';

/** A piece of text in a message. */
export interface TextBlock {
  type: 'text';
  text: string;
}

/**
 * One block of a message's content. Text today; images, documents, tool calls and tool results
 * join this union, each with its own `type`.
 */
export type ContentBlock = TextBlock;

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
