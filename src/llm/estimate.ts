import type { ContentBlock } from './message.js';
import { systemText, type GenerationRequest } from './request.js';

/**
 * Upper bounds of the tokens a request can use, for what must hold before it is paid (budgets, the
 * token window): an overestimate on purpose, reconciled with the provider's count once it answers.
 */

/** Upper bound of the tokens a text can be: no tokenizer makes a token of less than one UTF-8 byte. */
export const tokenBound = (s: string | null | undefined): number => (s ? Buffer.byteLength(s, 'utf8') : 0);

/** Per-request overhead a provider may add to the input (roles, separators). */
const OVERHEAD_TOKENS = 16;
/**
 * An image's tokens at most: Anthropic resizes to about 1.15 megapixels (≈1,600 tokens), OpenAI's
 * high detail is at most 8 tiles (≈1,500 tokens). Models that report images inflated (gpt-4o-mini
 * prices its image tokens low and counts them ×33) can go past it: the caveat at the end of docs/compatible-endpoints.md.
 */
export const IMAGE_TOKEN_BOUND = 2_000;
/** A PDF: about 3,000 tokens a page at most (its text and its page image), a page per 10 KB at least, 100 pages at most. */
const documentBound = (bytes: number) => Math.min(300_000, Math.max(1, Math.ceil(bytes / 10_000)) * 3_000);
/** Decoded bytes of base64 text. */
const base64Bytes = (data: string) => Math.ceil((data.length * 3) / 4);

function blockBound(b: ContentBlock): number {
  switch (b.type) {
    case 'text': return tokenBound(b.text);
    case 'image': return IMAGE_TOKEN_BOUND;
    case 'document': return b.source.kind === 'text' ? tokenBound(b.source.data) : documentBound(b.source.kind === 'base64' ? base64Bytes(b.source.data) : 0);
    // Audio models count about 10 tokens a second; a second of audio is 16 KB of 128 kbit/s MP3 at the least.
    case 'audio': return 100 + Math.ceil(base64Bytes(b.data) / 1_000);
    case 'tool_call': return tokenBound(b.name) + tokenBound(b.arguments) + 8;
    case 'tool_result': return 8 + (typeof b.content === 'string' ? tokenBound(b.content) : b.content.reduce((n, x) => n + blockBound(x), 0));
    case 'thinking': return tokenBound(b.thinking);
    case 'redacted_thinking': return tokenBound(b.data);
  }
}

/** What the bounds read of a request: every part it sends, and its output bound. */
export type EstimatedRequest = Pick<GenerationRequest, 'messages' | 'tools' | 'embed'> & {
  system?: GenerationRequest['system'] | null;
  params: Pick<GenerationRequest['params'], 'maxTokens'>;
};

/**
 * The most tokens a generation can use: every input byte of text (system, messages, tool
 * definitions) a token, each image, document and audio part its bound, plus overhead, and
 * `maxTokens` of output (none for an embedding). Budgets and the token limit hold the same estimate.
 */
export function worstCaseTokens(r: EstimatedRequest): { inputTokens: number; outputTokens: number } {
  if (r.embed) return { inputTokens: r.embed.inputs.reduce((n, s) => n + tokenBound(s) + 1, OVERHEAD_TOKENS), outputTokens: 0 };
  let input = tokenBound(systemText(r.system ?? undefined)) + OVERHEAD_TOKENS;
  for (const m of r.messages) input += typeof m.content === 'string' ? tokenBound(m.content) : m.content.reduce((n, b) => n + blockBound(b), 0);
  if (r.tools?.length) input += tokenBound(JSON.stringify(r.tools));
  return { inputTokens: input, outputTokens: r.params.maxTokens };
}

/** A likely count (not a bound) of a text's tokens: about four characters a token. */
const likely = (s: string | undefined) => Math.ceil((s?.length ?? 0) / 4);

function blockEstimate(b: ContentBlock): number {
  switch (b.type) {
    case 'image': return 85 + (b.source.kind === 'base64' ? Math.ceil(base64Bytes(b.source.data) / 750) : 765);
    case 'document': return b.source.kind === 'text' ? likely(b.source.data) : Math.min(300_000, Math.max(1, Math.ceil((b.source.kind === 'base64' ? base64Bytes(b.source.data) : 0) / 10_000)) * 1_500);
    case 'audio': return 50 + Math.ceil(base64Bytes(b.data) / 3_200);
    case 'tool_result': return 4 + (typeof b.content === 'string' ? likely(b.content) : b.content.reduce((n, x) => n + blockEstimate(x), 0));
    case 'tool_call': return 4 + likely(b.name) + likely(b.arguments);
    case 'text': return likely(b.text);
    case 'thinking': return likely(b.thinking);
    case 'redacted_thinking': return likely(b.data);
  }
}

/** The input tokens a request likely has, for providers that cannot count (`POST /v1/messages/count_tokens`). */
export function estimateInputTokens(r: EstimatedRequest): number {
  let n = likely(systemText(r.system ?? undefined)) + 4;
  for (const m of r.messages) n += 4 + (typeof m.content === 'string' ? likely(m.content) : m.content.reduce((k, b) => k + blockEstimate(b), 0));
  return n + (r.tools?.length ? likely(JSON.stringify(r.tools)) : 0);
}
