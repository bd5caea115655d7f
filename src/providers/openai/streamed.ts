import type { OutputBlock, TextBlock, ToolCallBlock } from '../../llm/message.js';
import type { StopReason, StreamDelta } from '../../llm/result.js';
import { stopReasonOf } from './wire.js';

/** A streamed choice's delta, as far as it is read here. */
interface ChoiceChunk {
  delta?: {
    content?: string | null;
    refusal?: string | null;
    tool_calls?: { index: number; id?: string; function?: { name?: string; arguments?: string } }[];
  } | null;
  finish_reason?: string | null;
  logprobs?: unknown;
}

/**
 * A Chat Completions stream put together: the text and each tool call get a block, numbered in
 * the order they first appear, and every piece goes to `onDelta` as it comes. A refusal's pieces
 * are not passed on (no answer text); the result carries it as the refusal text.
 */
export class StreamedChat {
  readonly #blocks: OutputBlock[] = [];
  #text: number | undefined;
  readonly #calls = new Map<number, number>();
  #refusal = '';
  #finish: string | null = null;

  constructor(private readonly onDelta: (d: StreamDelta) => void) {}

  add(choice: ChoiceChunk): void {
    const d = choice.delta;
    if (d?.refusal) this.#refusal += d.refusal;
    if (d?.content) {
      this.#text ??= this.#blocks.push({ type: 'text', text: '' }) - 1;
      (this.#blocks[this.#text] as TextBlock).text += d.content;
      this.onDelta({ type: 'text', block: this.#text, text: d.content });
    }
    for (const t of d?.tool_calls ?? []) {
      let block = this.#calls.get(t.index);
      if (block === undefined) {
        block = this.#blocks.push({ type: 'tool_call', id: t.id ?? `call_${t.index}`, name: t.function?.name ?? '', arguments: '' }) - 1;
        this.#calls.set(t.index, block);
        const b = this.#blocks[block] as ToolCallBlock;
        this.onDelta({ type: 'tool_call', block, id: b.id, name: b.name });
      }
      const args = t.function?.arguments;
      if (args) {
        (this.#blocks[block] as ToolCallBlock).arguments += args;
        this.onDelta({ type: 'tool_args', block, args });
      }
    }
    this.#finish = choice.finish_reason ?? this.#finish;
  }

  result(): { text: string; blocks?: OutputBlock[]; stopReason: StopReason } {
    if (this.#refusal) return { text: this.#refusal, stopReason: 'refusal' };
    const text = this.#text === undefined ? '' : (this.#blocks[this.#text] as TextBlock).text;
    const onlyText = this.#blocks.every((b) => b.type === 'text');
    return { text, ...(onlyText ? {} : { blocks: this.#blocks }), stopReason: stopReasonOf(this.#finish) };
  }
}
