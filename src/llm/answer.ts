import { chunksOf } from '../util/chunks.js';
import type { OutputBlock, TextBlock, ToolCallBlock } from './message.js';
import type { StreamDelta } from './result.js';

/** An answer's blocks: its own, or its text as one text block (none for an empty text). */
export const answerBlocks = (text: string, blocks?: OutputBlock[] | null): OutputBlock[] =>
  blocks ?? (text ? [{ type: 'text', text }] : []);

/** The text of an answer's blocks, joined. */
export const answerText = (blocks: readonly OutputBlock[]): string =>
  blocks.map((b) => (b.type === 'text' ? b.text : '')).join('');

/** Blocks worth storing apart from the text: undefined when they are just text. */
export const extraBlocks = (blocks: OutputBlock[]): OutputBlock[] | undefined =>
  blocks.every((b) => b.type === 'text' && !b.cacheControl) ? undefined : blocks;

export const toolCallsOf = (blocks: readonly OutputBlock[]): ToolCallBlock[] =>
  blocks.filter((b): b is ToolCallBlock => b.type === 'tool_call');

/** The deltas that stream `blocks` whole, each text cut into up to `pieces` pieces (a replay of a finished answer). */
export function deltasOf(blocks: readonly OutputBlock[], pieces: number, from = 0): StreamDelta[] {
  const out: StreamDelta[] = [];
  blocks.forEach((b, i) => {
    if (i < from) return;
    if (b.type === 'text') for (const t of chunksOf(b.text, pieces)) out.push({ type: 'text', block: i, text: t });
    else if (b.type === 'thinking') {
      for (const t of chunksOf(b.thinking, pieces)) out.push({ type: 'thinking', block: i, text: t });
      if (b.signature) out.push({ type: 'signature', block: i, signature: b.signature });
    } else if (b.type === 'tool_call') {
      out.push({ type: 'tool_call', block: i, id: b.id, name: b.name });
      for (const a of chunksOf(b.arguments, pieces)) out.push({ type: 'tool_args', block: i, args: a });
    }
  });
  return out;
}

/** Adds a delta to the blocks streamed so far. */
export function applyDelta(blocks: OutputBlock[], d: StreamDelta): void {
  const at = blocks[d.block];
  if (d.type === 'tool_call') blocks[d.block] = { type: 'tool_call', id: d.id, name: d.name, arguments: '' };
  else if (d.type === 'tool_args') {
    if (at?.type === 'tool_call') at.arguments += d.args;
  } else if (d.type === 'text') {
    if (at?.type === 'text') at.text += d.text;
    else blocks[d.block] = { type: 'text', text: d.text };
  } else if (d.type === 'signature') {
    if (at?.type === 'thinking') at.signature = (at.signature ?? '') + d.signature;
  } else if (at?.type === 'thinking') at.thinking += d.text;
  else blocks[d.block] = { type: 'thinking', thinking: d.text };
}

/** Whether `sent` is the start of `whole` (a block's text, arguments or reasoning may be partly sent). */
function extends_(whole: OutputBlock, sent: OutputBlock): boolean {
  if (whole.type !== sent.type) return false;
  if (whole.type === 'text') return whole.text.startsWith((sent as TextBlock).text);
  if (whole.type === 'thinking') {
    const s = sent as typeof whole;
    return whole.thinking.startsWith(s.thinking) && (!s.signature || s.signature === whole.signature);
  }
  if (whole.type === 'tool_call') {
    const s = sent as ToolCallBlock;
    return whole.id === s.id && whole.name === s.name && whole.arguments.startsWith(s.arguments);
  }
  return true;
}

/**
 * What is left to stream of the finished answer `whole` after `sent` went out: undefined when what
 * was sent is not its start (a retry answered differently), so the stream cannot be completed.
 */
export function remainder(whole: readonly OutputBlock[], sent: readonly (OutputBlock | undefined)[], pieces: number): StreamDelta[] | undefined {
  const out: StreamDelta[] = [];
  for (let i = 0; i < Math.max(whole.length, sent.length); i++) {
    const w = whole[i];
    const s = sent[i];
    if (!s) {
      if (w) out.push(...deltasOf([w], pieces).map((d) => ({ ...d, block: i })));
      continue;
    }
    if (!w || !extends_(w, s)) return undefined;
    if (w.type === 'text') for (const t of chunksOf(w.text.slice((s as TextBlock).text.length), pieces)) out.push({ type: 'text', block: i, text: t });
    else if (w.type === 'thinking') {
      const st = s as typeof w;
      for (const t of chunksOf(w.thinking.slice(st.thinking.length), pieces)) out.push({ type: 'thinking', block: i, text: t });
      if (w.signature && !st.signature) out.push({ type: 'signature', block: i, signature: w.signature });
    }
    else if (w.type === 'tool_call') for (const a of chunksOf(w.arguments.slice((s as ToolCallBlock).arguments.length), pieces)) out.push({ type: 'tool_args', block: i, args: a });
  }
  return out;
}
