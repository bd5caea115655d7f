import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fakes/llm-server.js';
import { createTestEnv, type TestEnv } from './context.js';

/** What `llmEnvPerTest` keeps current: the file's fake LLM, and the test's env and key. */
export interface LlmEnv {
  llm: FakeLlm;
  t: TestEnv;
  /** Authorization header of an `enterprise` API key. */
  auth: Record<string, string>;
  /** With `listen`: the app's base URL on a real port. */
  base: string;
}

/**
 * Call at a file's top level: one fake LLM server for the file and, for each
 * test, a fresh TestEnv whose Anthropic provider points at it (`env` on top),
 * an enterprise key, the fake's calls cleared and its default answer `ok`.
 */
export function llmEnvPerTest(env: Record<string, string>, opts: { listen?: boolean; /** Point OPENAI_BASE_URL at the fake too. */ openai?: boolean } = {}): LlmEnv {
  const e = {} as LlmEnv;
  beforeAll(async () => { e.llm = await startFakeLlm(); });
  afterAll(() => e.llm.close());
  beforeEach(async () => {
    e.t = await createTestEnv({ ANTHROPIC_BASE_URL: e.llm.anthropicBaseUrl, ...(opts.openai ? { OPENAI_BASE_URL: e.llm.openaiBaseUrl } : {}), ...env });
    e.auth = await e.t.keyHeader('enterprise');
    e.llm.reset(); // a script a test left unanswered must not answer the next one
    if (opts.listen) e.base = await e.t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterEach(() => e.t.close());
  return e;
}
