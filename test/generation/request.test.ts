import { describe, expect, it } from 'vitest';
import { canonicalJson, inputHash } from '../../src/llm/hash.js';
import { promptOf } from '../../src/llm/message.js';
import { requestOf, storedRequest } from '../../src/llm/stored.js';
import { templateRequest } from '../../src/templates/request.js';
import { type GenerationRequest } from '../../src/llm/request.js';
import { worstCaseTokens } from '../../src/llm/estimate.js';

const tpl = {
  id: 'tpl_a', version: 1, body: 'Summarise {{text}} for {{who}}', system: 'You are {{tone}}.', maxTokens: 100, temperature: 0.3,
  outputSchema: null, keyFields: null,
};
const target = { provider: 'fake', model: 'fake-1', defaultMaxTokens: 1024 };
const vars = { text: 'the meeting', who: 'Ana', tone: 'terse' };

describe('a template renders into a request', () => {
  it('system from its system, its body as the one user message, params and responseFormat from the template', () => {
    expect(templateRequest(tpl, vars, target)).toEqual({
      provider: 'fake', model: 'fake-1', system: 'You are terse.',
      messages: [{ role: 'user', content: 'Summarise the meeting for Ana' }],
      params: { maxTokens: 100, temperature: 0.3 },
    });
    const schema = { type: 'object' };
    const bare = templateRequest({ ...tpl, system: null, maxTokens: null, temperature: null, outputSchema: schema }, vars, target);
    expect(bare).toEqual({
      provider: 'fake', model: 'fake-1', messages: [{ role: 'user', content: 'Summarise the meeting for Ana' }],
      params: { maxTokens: 1024 }, responseFormat: { type: 'json_schema', schema },
    });
  });

  it('comes back whole from a job or row, an old one (prompt only) as one user message', () => {
    const req = templateRequest({ ...tpl, outputSchema: { type: 'object' } }, vars, target);
    const stored = { provider: 'fake', model: 'fake-1', system: 'You are terse.', messages: req.messages, maxTokens: 100, temperature: 0.3,
      topP: null, stop: null, outputSchema: { type: 'object' } };
    expect(requestOf(stored)).toEqual(req);
    expect(requestOf(storedRequest(req))).toEqual(req);
    expect(requestOf({ ...stored, messages: undefined, prompt: 'Summarise the meeting for Ana' })).toEqual(req);
  });

  it('fills the prompt column with the one user message, or every message as lines', () => {
    expect(promptOf([{ role: 'user', content: 'hi' }])).toBe('hi');
    expect(promptOf([{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }, { role: 'user', content: 'bye' }]))
      .toBe('user: hi\nassistant: hello\nuser: bye');
  });

  it('is estimated over the system and every message', () => {
    const one = worstCaseTokens({ system: 'abcd', messages: [{ role: 'user', content: 'hello' }], params: { maxTokens: 7 } });
    const two = worstCaseTokens({ system: 'abcd', messages: [{ role: 'user', content: 'hel' }, { role: 'assistant', content: 'lo' }], params: { maxTokens: 7 } });
    expect(one).toEqual({ inputTokens: 4 + 5 + 16, outputTokens: 7 });
    expect(two).toEqual(one);
  });
});

describe('input hash', () => {
  const req: GenerationRequest = {
    provider: 'fake', model: 'fake-1', system: 's', messages: [{ role: 'user', content: 'q' }],
    params: { maxTokens: 10, temperature: 0.5, stop: ['\n'] }, responseFormat: { type: 'json_schema', schema: { b: 1, a: { y: 2, x: 1 } } },
  };
  const t = { id: 'tpl_a', version: 1 };

  it('is independent of key order at every depth', () => {
    expect(canonicalJson({ b: 1, a: { y: 2, x: 1 } })).toBe('{"a":{"x":1,"y":2},"b":1}');
    const reordered: GenerationRequest = {
      responseFormat: { schema: { a: { x: 1, y: 2 }, b: 1 }, type: 'json_schema' }, params: { stop: ['\n'], temperature: 0.5, maxTokens: 10 },
      messages: [{ content: 'q', role: 'user' }], system: 's', model: 'fake-1', provider: 'fake',
    };
    expect(inputHash(reordered)).toBe(inputHash(req));
    expect(inputHash(reordered, { version: 1, id: 'tpl_a' })).toBe(inputHash(req, t));
    expect(inputHash(req)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes with every part of the request, and with the template and its version (a PATCH)', () => {
    const h = inputHash(req, t);
    const changes: Partial<GenerationRequest>[] = [
      { provider: 'openai' }, { model: 'fake-2' }, { system: 'S' }, { system: undefined },
      { messages: [{ role: 'assistant', content: 'q' }] }, { messages: [{ role: 'user', content: 'q' }, { role: 'user', content: 'q' }] },
      { params: { maxTokens: 11, temperature: 0.5, stop: ['\n'] } }, { params: { maxTokens: 10, stop: ['\n'] } },
      { params: { maxTokens: 10, temperature: 0.5, stop: ['\n'], topP: 0.9 } }, { responseFormat: undefined },
    ];
    for (const change of changes) expect(inputHash({ ...req, ...change }, t)).not.toBe(h);
    expect(inputHash(req, { ...t, version: 2 })).not.toBe(h);
    expect(inputHash(req, { ...t, id: 'tpl_b' })).not.toBe(h);
    expect(inputHash(req)).not.toBe(h);
  });

  it('with keyFields, only the key variables identify the rendered text', () => {
    const keyed = { ...tpl, keyFields: ['text'] };
    const hashOf = (v: Record<string, unknown>, version = 1) =>
      inputHash(templateRequest(keyed, v, target), { id: keyed.id, version, keyVariables: { text: v.text } });
    const h = hashOf(vars);
    expect(hashOf({ ...vars, who: 'Bo', tone: 'warm' })).toBe(h);
    expect(hashOf({ ...vars, text: 'the call' })).not.toBe(h);
    expect(hashOf(vars, 2)).not.toBe(h);
    // The rest of the request still counts.
    const other = templateRequest({ ...keyed, maxTokens: 5 }, vars, target);
    expect(inputHash(other, { id: keyed.id, version: 1, keyVariables: { text: vars.text } })).not.toBe(h);
  });
});
