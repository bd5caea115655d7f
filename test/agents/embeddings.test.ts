import { createOpenAI } from '@ai-sdk/openai';
import { OpenAIEmbeddings } from '@langchain/openai';
import { embedMany } from 'ai';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { llmEnvPerTest } from '../support/llm-env.js';

/**
 * POST /v1/embeddings with the clients that call it (the OpenAI SDK asks base64 by default, the
 * AI SDK floats, LangChain base64), each text cached on its own: what reaches the upstream is
 * counted there, text by text.
 */
const e = llmEnvPerTest({ OPENAI_API_KEY: 'sk-openai-test' }, { listen: true, openai: true });
const keyOf = () => e.auth.authorization!.replace(/^Bearer /, '');
const openai = () => new OpenAI({ baseURL: `${e.base}/v1`, apiKey: keyOf() });
const MODEL = 'text-embedding-3-small';
/** The texts each upstream call carried. */
const sent = () => e.llm.calls.filter((c) => c.dialect === 'embeddings').map((c) => c.body.input);

describe('embeddings: cached text by text, the rest one job', () => {
  it('a mixed array pays only for its new texts; every client reads the same vectors', async () => {
    e.t.worker();
    const first = await openai().embeddings.create({ model: MODEL, input: ['alpha', 'beta'] });
    expect(first.data.map((d) => d.index)).toEqual([0, 1]);
    expect(sent()).toEqual([['alpha', 'beta']]);
    // Upstream's own vector, as floats, for comparison.
    const direct = await new OpenAI({ baseURL: e.llm.openaiBaseUrl, apiKey: 'x' }).embeddings.create({ model: MODEL, input: 'gamma', encoding_format: 'float' });
    e.llm.calls.length = 0;

    const { data, response } = await openai().embeddings.create({ model: MODEL, input: ['alpha', 'gamma', 'beta'] }).withResponse();
    expect(sent()).toEqual([['gamma']]);
    expect(response.headers.get('x-cache')).toBe('PARTIAL');
    expect(data.usage.prompt_tokens).toBe(Math.ceil('gamma'.length / 4));
    expect((data as unknown as { promptlab: { cached_inputs: number } }).promptlab.cached_inputs).toBe(2);
    expect(data.data[0]!.embedding).toEqual(first.data[0]!.embedding);
    expect(data.data[1]!.embedding).toEqual(direct.data[0]!.embedding);

    // All cached: nothing paid, whichever client and encoding.
    const ai = await embedMany({ model: createOpenAI({ baseURL: `${e.base}/v1`, apiKey: keyOf() }).embedding(MODEL), values: ['beta', 'gamma'] });
    expect(ai.embeddings).toEqual([first.data[1]!.embedding, direct.data[0]!.embedding]);
    const lc = new OpenAIEmbeddings({ model: MODEL, apiKey: keyOf(), configuration: { baseURL: `${e.base}/v1` } });
    expect(await lc.embedDocuments(['alpha', 'gamma'])).toEqual([first.data[0]!.embedding, direct.data[0]!.embedding]);
    expect(await lc.embedQuery('beta')).toEqual(first.data[1]!.embedding);
    const hit = await openai().embeddings.create({ model: MODEL, input: 'alpha' }).withResponse();
    expect([hit.response.headers.get('x-cache'), hit.data.usage.prompt_tokens]).toEqual(['HIT', 0]);
    expect(sent()).toEqual([['gamma']]);
  });

  it('concurrent identical arrays share one job; dimensions are part of the input; the job is in the ledger', async () => {
    e.t.worker();
    const texts = Array.from({ length: 100 }, (_, i) => `text ${i}`);
    const answers = await Promise.all(Array.from({ length: 6 }, () => openai().embeddings.create({ model: MODEL, input: texts, dimensions: 16 })));
    expect(answers.every((a) => a.data.length === 100 && a.data[0]!.embedding.length === 16)).toBe(true);
    expect(sent()).toEqual([texts]);
    expect(e.llm.calls[0]!.body).toMatchObject({ dimensions: 16, encoding_format: 'base64' });
    await openai().embeddings.create({ model: MODEL, input: texts.slice(0, 3), dimensions: 8 });
    expect(sent()).toHaveLength(2);
    const jobs = (await e.t.app.inject({ method: 'GET', url: '/v1/jobs', headers: e.auth })).json().data as { status: string; usage: { inputTokens: number } }[];
    expect(jobs.map((j) => j.status)).toEqual(['completed', 'completed']);
    expect(jobs[1]!.usage.inputTokens).toBe(texts.reduce((n, t) => n + Math.ceil(t.length / 4), 0));
  });

  it('what cannot be embedded is a 400 naming it, before anything is paid', async () => {
    const bad = (body: object) => openai().embeddings.create({ model: MODEL, input: 'x', ...body } as never).catch((err) => err);
    expect(await bad({ input: [[1, 2, 3]] })).toMatchObject({ status: 400, param: 'input[0]' });
    expect(await bad({ model: 'claude-haiku-4-5' })).toMatchObject({ status: 400 });
    expect(e.llm.calls).toHaveLength(0);
  });
});
