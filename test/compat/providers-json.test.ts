import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fakes/llm-server.js';
import { createTestEnv, type TestEnv } from '../support/context.js';

/** A PROVIDERS_JSON provider reached from the OpenAI SDK by its model's name, or by provider/model. */
let llm: FakeLlm;
let t: TestEnv;
beforeAll(async () => { llm = await startFakeLlm(); });
afterAll(() => llm.close());
beforeEach(async () => {
  t = await createTestEnv({ PROVIDERS_JSON: JSON.stringify([{ name: 'local', baseUrl: llm.openaiBaseUrl, models: [{ name: 'llama3.2', input: 0, output: 0 }] }]) });
});
afterEach(() => t.close());

it('routes by a listed name or provider/model, and lists the model', async () => {
  const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
  const apiKey = (await t.keyHeader('enterprise')).authorization!.replace(/^Bearer /, '');
  t.worker();
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0 });
  const a = await client.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'one' }] });
  const b = await client.chat.completions.create({ model: 'local/llama3.2', messages: [{ role: 'user', content: 'two' }] });
  expect([a.model, b.model]).toEqual(['llama3.2', 'local/llama3.2']);
  expect(llm.calls.map((c) => [c.dialect, c.body.model, c.prompt])).toEqual([['openai', 'llama3.2', 'one'], ['openai', 'llama3.2', 'two']]);
  const models = [];
  for await (const m of client.models.list()) models.push(m);
  expect(models).toContainEqual(expect.objectContaining({ id: 'llama3.2', owned_by: 'local' }));
  expect(models.map((m) => m.owned_by)).not.toContain('openai');
});
