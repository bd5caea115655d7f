import { describe, expect, it } from 'vitest';
import { ProviderError } from '../src/providers/errors.js';
import { placeholders, render } from '../src/templates/render.js';
import { parseOutput } from '../src/templates/output-schema.js';
import { PROVIDER_ERROR_TABLE } from '../src/providers/errors.js';
import { RETRY_CAN_FIX } from '../src/jobs/failed-answer.js';
import { backoffDelay, OUTCOME_FAILURES } from '../workers/failures.js';
import { RECONCILED_FAILURES } from '../workers/reconciler.js';
import { newId } from '../src/db/ids.js';

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

describe('dead jobs and retries', () => {
  it('every code a generation can end with says whether a retry of the same request can fix it', () => {
    const codes = [...Object.values(PROVIDER_ERROR_TABLE).map((r) => r.code), ...Object.keys(OUTCOME_FAILURES), ...Object.keys(RECONCILED_FAILURES), 'internal_error', 'canceled'];
    for (const code of codes) expect(RETRY_CAN_FIX, code).toHaveProperty(code);
    // A provider error the worker retries is upstream trouble; one it does not retry is the request's.
    for (const rule of Object.values(PROVIDER_ERROR_TABLE)) expect(RETRY_CAN_FIX[rule.code as keyof typeof RETRY_CAN_FIX], rule.code).toBe(rule.retryable);
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

describe('ids', () => {
  it('are a prefix and 16 random bytes in base64url, distinct across the pool refills', () => {
    const ids = Array.from({ length: 2000 }, () => newId('gen'));
    for (const id of ids) expect(id).toMatch(/^gen_[A-Za-z0-9_-]{22}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
