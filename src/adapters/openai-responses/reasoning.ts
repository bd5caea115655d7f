import type { RedactedThinkingBlock, ThinkingBlock } from '../../llm/message.js';

/**
 * Reasoning across Responses turns. A reasoning block (Anthropic's thinking, with the signature
 * it must come back with) goes out as a `reasoning` item whose `encrypted_content` is PromptLab's
 * own envelope; an item carrying it comes back as the same block, so a tool loop over the
 * Responses API passes a model its reasoning unchanged.
 */
const ENVELOPE = 'promptlab:';

export function reasoningItem(id: string, b: ThinkingBlock | RedactedThinkingBlock) {
  const sealed = b.type === 'thinking' ? { thinking: b.thinking, ...(b.signature ? { signature: b.signature } : {}) } : { redacted: b.data };
  return {
    id, type: 'reasoning', status: 'completed',
    summary: b.type === 'thinking' ? [{ type: 'summary_text', text: b.thinking }] : [],
    encrypted_content: ENVELOPE + Buffer.from(JSON.stringify(sealed)).toString('base64'),
  };
}

/** The block a reasoning item PromptLab returned stands for; undefined for any other reasoning item. */
export function reasoningOfItem(item: Record<string, unknown>): ThinkingBlock | RedactedThinkingBlock | undefined {
  const sealed = item.encrypted_content;
  if (typeof sealed !== 'string' || !sealed.startsWith(ENVELOPE)) return undefined;
  try {
    const v = JSON.parse(Buffer.from(sealed.slice(ENVELOPE.length), 'base64').toString('utf8')) as { thinking?: unknown; signature?: unknown; redacted?: unknown };
    if (typeof v.redacted === 'string') return { type: 'redacted_thinking', data: v.redacted };
    if (typeof v.thinking === 'string') return { type: 'thinking', thinking: v.thinking, ...(typeof v.signature === 'string' ? { signature: v.signature } : {}) };
  } catch {
    // Not ours after all: dropped like any other server's reasoning.
  }
  return undefined;
}
