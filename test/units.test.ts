import { describe, expect, it } from 'vitest';
import { canonicalJson, inputHash } from '../src/generation/hash.js';
import { ProviderError } from '../src/providers/errors.js';
import { placeholders, render } from '../src/templates/render.js';
import { parseOutput } from '../src/templates/output-schema.js';
import { backoffDelay } from '../workers/failures.js';

describe('input hash', () => {
  const base = { templateId: 'tpl_a', templateVersion: 1, provider: 'fake', model: 'fake-1', params: { maxTokens: 10, temperature: null }, variables: { b: 1, a: { y: 2, x: [1, { d: 1, c: 2 }] } } };

  it('is independent of key order at every depth', () => {
    expect(canonicalJson({ b: 1, a: { y: 2, x: 1 } })).toBe('{"a":{"x":1,"y":2},"b":1}');
    const reordered = { variables: { a: { x: [1, { c: 2, d: 1 }], y: 2 }, b: 1 }, params: { temperature: null, maxTokens: 10 }, model: 'fake-1', provider: 'fake', templateVersion: 1, templateId: 'tpl_a' };
    expect(inputHash(reordered)).toBe(inputHash(base));
    expect(inputHash(base)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes with every part of the identity', () => {
    const h = inputHash(base);
    for (const change of [{ templateVersion: 2 }, { provider: 'openai' }, { model: 'fake-2' }, { params: { maxTokens: 11, temperature: null } }, { variables: { b: 2 } }]) {
      expect(inputHash({ ...base, ...change })).not.toBe(h);
    }
  });
});

describe('templates', () => {
  it('finds placeholders and renders them', () => {
    expect(placeholders('Hi {{ name }}, {{topic}} and {{name}}', 'sys {{tone}}')).toEqual(['name', 'topic', 'tone']);
    expect(render('Hi {{ name }}: {{data}}', { name: 'Ana', data: { n: 1 } })).toBe('Hi Ana: {"n":1}');
  });

  it('parses and validates structured output', () => {
    const schema = { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } };
    expect(parseOutput('```json\n{"n": 3}\n```', schema)).toEqual({ ok: true, json: { n: 3 } });
    expect(parseOutput('{"n": "3"}', schema).ok).toBe(false);
    expect(parseOutput('three', schema).ok).toBe(false);
  });
});

describe('backoff', () => {
  it('grows exponentially with equal jitter', () => {
    expect(backoffDelay(1, 1000, undefined, () => 0)).toBe(500);
    expect(backoffDelay(1, 1000, undefined, () => 1)).toBe(1000);
    expect(backoffDelay(3, 1000, undefined, () => 0)).toBe(2000);
    expect(backoffDelay(3, 1000, undefined, () => 1)).toBe(4000);
  });

  it('never retries sooner than the provider asked', () => {
    const err = new ProviderError('provider_rate_limited', 'slow down', { status: 429, retryable: true, retryAfterMs: 7000 });
    expect(backoffDelay(1, 1000, err, () => 1)).toBe(7000);
  });
});
