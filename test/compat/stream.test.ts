import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { reply } from '../fakes/llm-server.js';
import { llmEnvPerTest } from '../support/llm-env.js';

/** `stream: true` through the job: the real SDKs' stream parsers as clients, the fake LLM server streaming behind. */
const e = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-test', OPENAI_API_KEY: 'sk-openai-test' }, { listen: true, openai: true });

const keyOf = () => e.auth.authorization!.replace(/^Bearer /, '');
const openai = () => new OpenAI({ baseURL: `${e.base}/v1`, apiKey: keyOf(), maxRetries: 0 });
const anthropic = () => new Anthropic({ baseURL: e.base, apiKey: keyOf(), maxRetries: 0 });
const TEXT = 'streamed from the fake upstream, piece by piece';

async function openaiText(params: { model: string; content: string; includeUsage?: boolean; maxTokens?: number }, headers: Record<string, string> = {}, onPiece?: (text: string) => void) {
  const { data: stream, response } = await openai().chat.completions.create({
    model: params.model, messages: [{ role: 'user', content: params.content }], stream: true,
    ...(params.includeUsage ? { stream_options: { include_usage: true } } : {}),
    ...(params.maxTokens ? { max_tokens: params.maxTokens } : {}),
  }, { headers }).withResponse();
  let text = '';
  const chunks = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
    text += chunk.choices[0]?.delta.content ?? '';
    if (chunk.choices[0]?.delta.content) onPiece?.(text);
  }
  return { text, chunks, headers: response.headers };
}

describe('OpenAI SDK, stream: true', () => {
  it('streams the provider\'s answer through the job, then replays it from the cache as a stream', async () => {
    e.t.worker();
    e.llm.script({ text: TEXT, usage: { inputTokens: 7, outputTokens: 11 }, chunkDelayMs: 5 });
    const first = await openaiText({ model: 'gpt-4o-mini', content: 'Stream please', includeUsage: true });
    expect(first.text).toBe(TEXT);
    expect(first.headers.get('x-cache')).toBe('MISS');
    expect(first.chunks.length).toBeGreaterThan(3);
    expect(first.chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    expect(first.chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 11, total_tokens: 18 });
    expect(e.llm.calls).toHaveLength(1);
    expect(e.llm.calls[0]!.body).toMatchObject({ stream: true });

    const jobId = first.headers.get('x-promptlab-job-id')!;
    const events = await e.t.app.inject({ method: 'GET', url: `/v1/jobs/${jobId}/events`, headers: e.auth });
    const deltas = [...events.body.matchAll(/event: delta\ndata: (.*)\n/g)].map((m) => JSON.parse(m[1]!).text as string);
    expect(deltas.join('')).toBe(TEXT);

    const again = await openaiText({ model: 'gpt-4o-mini', content: 'Stream please', includeUsage: true });
    expect(again.text).toBe(TEXT);
    expect(again.headers.get('x-cache')).toBe('HIT');
    expect(again.chunks[0]!.id).toBe(jobId);
    // A cached answer is charged nothing: its usage is zero, and `promptlab` says so with the generation's own.
    expect(again.chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
    expect((again.chunks.at(-1) as unknown as { promptlab: unknown }).promptlab).toEqual({ job_id: jobId, cached: true, usage: { input_tokens: 7, output_tokens: 11 } });
    expect(e.llm.calls).toHaveLength(1);

    // The held, non-streamed call of the same input shares the generation.
    const held = await openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Stream please' }] });
    expect(held.choices[0]!.message.content).toBe(TEXT);
    expect(e.llm.calls).toHaveLength(1);
  });

  it('10 concurrent identical streaming calls: one provider call, ten identical complete streams', async () => {
    e.t.worker();
    e.llm.setDefault({ text: TEXT, chunkDelayMs: 30 });
    const all = await Promise.all(Array.from({ length: 10 }, () => openaiText({ model: 'gpt-4o-mini', content: 'Together' })));
    expect(e.llm.calls).toHaveLength(1);
    for (const r of all) expect(r.text).toBe(TEXT);
    expect(new Set(all.map((r) => r.headers.get('x-promptlab-job-id'))).size).toBe(1);
  });

  it('a streaming call that joins a held call\'s job (no deltas) gets the answer replayed as a stream', async () => {
    e.t.worker();
    e.llm.script({ text: TEXT, delayMs: 400 });
    const params = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Held first' }] };
    const held = openai().chat.completions.create(params);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const streamed = await openaiText({ model: 'gpt-4o-mini', content: 'Held first' });
    expect(streamed.text).toBe(TEXT);
    expect(streamed.headers.get('x-cache')).toBe('MISS');
    expect((await held).choices[0]!.message.content).toBe(TEXT);
    expect(e.llm.calls).toHaveLength(1);
    expect(e.llm.calls[0]!.body.stream).toBeUndefined();
  });

  it('the fake provider streams its deterministic text', async () => {
    e.t.worker();
    const streamed = await openaiText({ model: 'fake-1', content: 'Hello fake' });
    const held = await openai().chat.completions.create({ model: 'fake-1', messages: [{ role: 'user', content: 'Hello fake' }], max_tokens: 1024 });
    expect(streamed.text).toMatch(/^\[fake\] [0-9a-f]{12} Hello fake$/);
    expect(held.choices[0]!.message.content).toBe(streamed.text);
  });

  it('a provider failure before the first delta is retried out of sight: one complete stream', async () => {
    e.t.worker();
    e.llm.script(reply.serverError(503), { text: TEXT });
    const r = await openaiText({ model: 'gpt-4o-mini', content: 'Retry first' });
    expect(r.text).toBe(TEXT);
    expect(e.llm.calls).toHaveLength(2);
  });

  it('a worker closed mid-stream (and replaced) still gives the client a complete stream', async () => {
    const first = e.t.worker();
    e.llm.script({ text: TEXT, chunkDelayMs: 80 });
    const { data: stream } = await openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Survive' }], stream: true }).withResponse();
    let text = '';
    let closing: Promise<void> | undefined;
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta.content ?? '';
      text += piece;
      if (piece && !closing) {
        closing = first.close();
        e.t.worker();
      }
    }
    await closing;
    expect(text).toBe(TEXT);
    expect(e.llm.calls).toHaveLength(1);
  });

  it('a provider failure after the first delta ends the stream with the format\'s error', async () => {
    e.t.worker();
    e.llm.setDefault({ text: TEXT, wire: 'reset-body' });
    const err = await openaiText({ model: 'gpt-4o-mini', content: 'Break mid-way' }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as Error).message).toMatch(/Generation gen_\S+ failed/);
  });
});

describe('Idempotency-Key on streamed calls', () => {
  it('OpenAI SDK: a repeat attaches to the first call\'s job as a stream, in flight or done; another payload is a 422', async () => {
    e.t.worker();
    e.llm.setDefault({ text: TEXT, pieces: 8, chunkDelayMs: 40 });
    const key = { 'Idempotency-Key': 'stream-k1' };
    const params = { model: 'gpt-4o-mini', content: 'Stream once' };
    let repeat: ReturnType<typeof openaiText> | undefined;
    const first = await openaiText(params, key, () => { repeat ??= openaiText(params, key); });
    const during = await repeat!;
    expect(first.text).toBe(TEXT);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(during.text).toBe(TEXT);
    expect(during.headers.get('idempotent-replayed')).toBe('true');
    const jobId = first.headers.get('x-promptlab-job-id');
    expect(during.headers.get('x-promptlab-job-id')).toBe(jobId);
    expect(during.chunks[0]!.id).toBe(jobId);

    // Once done, answered from the job: even with the cache bypassed, no second provider call.
    const after = await openaiText(params, { ...key, 'Cache-Control': 'no-cache' });
    expect(after.text).toBe(TEXT);
    expect(after.headers.get('idempotent-replayed')).toBe('true');
    expect(after.chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(e.llm.calls).toHaveLength(1);

    const reused = await openaiText({ ...params, maxTokens: 5 }, key).catch((err: unknown) => err);
    expect(reused).toBeInstanceOf(OpenAI.UnprocessableEntityError);
    expect(reused).toMatchObject({ status: 422, code: 'idempotency_key_reused' });
    const held = await openai().chat.completions.create({ model: params.model, messages: [{ role: 'user', content: params.content }] }, { headers: key }).catch((err: unknown) => err);
    expect(held).toBeInstanceOf(OpenAI.UnprocessableEntityError);
    expect(e.llm.calls).toHaveLength(1);
  });

  it('a repeat of a stream whose job died gets the same error event', async () => {
    e.t.worker();
    e.llm.setDefault(reply.error(400, 'bad prompt'));
    const key = { 'Idempotency-Key': 'stream-dead' };
    const params = { model: 'gpt-4o-mini', content: 'Doomed' };
    const first = await openaiText(params, key).catch((err: unknown) => err);
    const again = await openaiText(params, key).catch((err: unknown) => err);
    expect(first).toBeInstanceOf(OpenAI.APIError);
    expect(again).toBeInstanceOf(OpenAI.APIError);
    expect((again as Error).message).toBe((first as Error).message);
    expect(e.llm.calls).toHaveLength(1);
  });

  it('Anthropic SDK: messages.stream() with the same key twice is one job; another payload is a 422', async () => {
    e.t.worker();
    e.llm.setDefault({ text: TEXT, chunkDelayMs: 5 });
    const key = { headers: { 'Idempotency-Key': 'stream-k2' } };
    const params = { model: 'claude-haiku-4-5', max_tokens: 100, messages: [{ role: 'user' as const, content: 'Stream it once' }] };
    const first = anthropic().messages.stream(params, key);
    expect(await first.finalText()).toBe(TEXT);
    const again = anthropic().messages.stream(params, key);
    expect(await again.finalText()).toBe(TEXT);
    const [a, b] = [(await first.withResponse()).response.headers, (await again.withResponse()).response.headers];
    expect(b.get('x-promptlab-job-id')).toBe(a.get('x-promptlab-job-id'));
    expect(b.get('idempotent-replayed')).toBe('true');
    expect(e.llm.calls).toHaveLength(1);
    const reused = await anthropic().messages.stream({ ...params, max_tokens: 50 }, key).finalText().catch((err: unknown) => err);
    expect(reused).toBeInstanceOf(Anthropic.UnprocessableEntityError);
    expect(e.llm.calls).toHaveLength(1);
  });
});

describe('Anthropic SDK, stream: true', () => {
  it('messages.stream() gets the whole text, and the cached replay the same', async () => {
    e.t.worker();
    e.llm.script({ text: TEXT, usage: { inputTokens: 9, outputTokens: 12 }, chunkDelayMs: 5 });
    const params = { model: 'claude-haiku-4-5', max_tokens: 100, messages: [{ role: 'user' as const, content: 'Stream it' }] };
    const stream = anthropic().messages.stream(params);
    const pieces: string[] = [];
    stream.on('text', (t) => pieces.push(t));
    const message = await stream.finalMessage();
    expect(await stream.finalText()).toBe(TEXT);
    expect(pieces.length).toBeGreaterThan(1);
    expect(message).toMatchObject({ stop_reason: 'end_turn', usage: { output_tokens: 12 } });
    expect(e.llm.calls).toHaveLength(1);
    expect(e.llm.calls[0]).toMatchObject({ dialect: 'anthropic', body: { stream: true } });

    const raw = await anthropic().messages.create({ ...params, stream: true });
    let text = '';
    for await (const ev of raw) if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
    expect(text).toBe(TEXT);
    expect(e.llm.calls).toHaveLength(1);
  });

  it('an Anthropic-format stream of an OpenAI-dialect model', async () => {
    e.t.worker();
    e.llm.script({ text: TEXT });
    const text = await anthropic().messages.stream({ model: 'gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user', content: 'Cross' }] }).finalText();
    expect(text).toBe(TEXT);
    expect(e.llm.calls[0]).toMatchObject({ dialect: 'openai', body: { stream: true } });
  });
});
