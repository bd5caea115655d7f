import { answerText } from '../../llm/answer.js';
import type { OutputBlock } from '../../llm/message.js';
import type { GenerationResult, StreamDelta } from '../../llm/result.js';
import { outputBlockOf, stopReasonOf, usageOfMessage } from './wire.js';

/** A Messages stream event, as far as it is read here. */
interface StreamEvent {
  type: string;
  index?: number;
  message?: { model?: string; usage?: Record<string, number | null> };
  content_block?: { type: string; [k: string]: unknown };
  delta?: { type?: string; text?: string; partial_json?: string; thinking?: string; signature?: string; stop_reason?: string | null };
  usage?: Record<string, number | null>;
}

/**
 * A Messages stream put together: each content block keeps its index as its block number, and
 * every piece (text, a tool call's start and input JSON, thinking) goes to `onDelta` as it comes.
 */
export class StreamedMessage {
  readonly #blocks: (OutputBlock | undefined)[] = [];
  #model: string;
  #stop: string | null = null;
  #usage: Record<string, number | null> = {};

  constructor(model: string, private readonly onDelta: (d: StreamDelta) => void) {
    this.#model = model;
  }

  add(e: StreamEvent): void {
    const i = e.index ?? 0;
    if (e.type === 'message_start') {
      this.#model = e.message?.model || this.#model;
      this.#usage = { ...e.message?.usage };
    } else if (e.type === 'content_block_start' && e.content_block) {
      const b = outputBlockOf(e.content_block.type === 'tool_use' ? { ...e.content_block, input: undefined } : e.content_block);
      if (b?.type === 'tool_call') {
        b.arguments = '';
        this.onDelta({ type: 'tool_call', block: i, id: b.id, name: b.name });
      } else if (b?.type === 'text' && b.text) this.onDelta({ type: 'text', block: i, text: b.text });
      this.#blocks[i] = b;
    } else if (e.type === 'content_block_delta' && e.delta) {
      const b = this.#blocks[i];
      const d = e.delta;
      if (d.type === 'text_delta' && b?.type === 'text' && d.text) {
        b.text += d.text;
        this.onDelta({ type: 'text', block: i, text: d.text });
      } else if (d.type === 'input_json_delta' && b?.type === 'tool_call' && d.partial_json) {
        b.arguments += d.partial_json;
        this.onDelta({ type: 'tool_args', block: i, args: d.partial_json });
      } else if (d.type === 'thinking_delta' && b?.type === 'thinking' && d.thinking) {
        b.thinking += d.thinking;
        this.onDelta({ type: 'thinking', block: i, text: d.thinking });
      } else if (d.type === 'signature_delta' && b?.type === 'thinking' && d.signature) {
        b.signature = (b.signature ?? '') + d.signature;
        this.onDelta({ type: 'signature', block: i, signature: d.signature });
      }
    } else if (e.type === 'message_delta') {
      this.#stop = e.delta?.stop_reason ?? this.#stop;
      // Its usage is cumulative: each figure it has replaces the one from message_start.
      for (const [k, v] of Object.entries(e.usage ?? {})) if (v != null) this.#usage[k] = v;
    }
  }

  result(): GenerationResult {
    const blocks = this.#blocks.filter((b): b is OutputBlock => b !== undefined);
    for (const b of blocks) if (b.type === 'tool_call' && !b.arguments) b.arguments = '{}';
    return {
      text: answerText(blocks), ...(blocks.every((b) => b.type === 'text') ? {} : { blocks }),
      ...usageOfMessage(this.#usage), stopReason: stopReasonOf(this.#stop), model: this.#model,
    };
  }
}
