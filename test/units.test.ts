import { describe, expect, it } from 'vitest';
import { ProviderError } from '../src/providers/errors.js';
import { placeholders, render } from '../src/templates/render.js';
import { parseOutput } from '../src/templates/output-schema.js';
import { backoffDelay } from '../workers/failures.js';

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
