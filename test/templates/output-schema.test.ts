import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors/app-error.js';
import { checkOutputSchema, MAX_URL_LENGTH, outputValidator, parseOutput } from '../../src/templates/output-schema.js';
import { MAX_PATTERN_LENGTH } from '../../src/templates/regexp.js';

const native = new Ajv({ strict: false });
addFormats.default(native);

/** The code and details checkOutputSchema rejects `schema` with. */
function rejection(schema: Record<string, unknown>) {
  try {
    checkOutputSchema(schema);
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return { code: (err as AppError).code, message: (err as AppError).message, details: (err as AppError).details };
  }
  throw new Error('the schema was accepted');
}

describe('outputSchema patterns run on RE2', () => {
  const cases: [pattern: string, inputs: string[]][] = [
    ['^[a-z]+$', ['abc', 'ABC', 'abc1', '', 'été']],
    ['\\d{3}-\\d{4}', ['123-4567', 'call 555-1234 now', '12-3456', '١٢٣-٤٥٦٧']],
    ['^\\p{L}+$', ['été', 'Ωmega', 'abc', 'a1', '日本語', '']],
    ['^\\p{Lu}', ['Été', 'été', 'Σ']],
    ['\\u00e9', ['café', 'cafe']],
    ['^(?<year>\\d{4})-\\d{2}$', ['2026-11', '26-11', '2026-111']],
    ['colou?r', ['color', 'colour', 'colr', 'my colours']],
    ['^$', ['', ' ']],
    ['^\\w+@\\w+\\.com$', ['a@b.com', 'a@b.org', 'a.b@c.com']],
    ['a|b', ['xxa', 'xxb', 'xxc']],
    ['^[^\\s]+$', ['nospace', 'one space', '']],
  ];

  it.each(cases)('%s accepts and rejects as native RegExp does', (pattern, inputs) => {
    const ours = outputValidator({ type: 'string', pattern });
    const theirs = native.compile({ type: 'string', pattern });
    for (const s of inputs) expect([s, ours(s)]).toEqual([s, theirs(s)]);
  });

  it('patternProperties and several patterns in one schema each keep their own regex', () => {
    const schema = {
      type: 'object',
      patternProperties: { '^x-': { type: 'string', pattern: '^[0-9]+$' }, '^y-': { type: 'string', pattern: '^[a-z]+$' } },
      additionalProperties: false,
    };
    const ours = outputValidator(schema);
    const theirs = native.compile(schema);
    for (const value of [{ 'x-a': '12' }, { 'x-a': 'ab' }, { 'y-a': 'ab' }, { 'y-a': '12' }, { z: '1' }, { 'x-': '1', 'y-': 'b' }]) {
      expect([value, ours(value)]).toEqual([value, theirs(value)]);
    }
  });

  it('a catastrophic-backtracking pattern compiles and validates a long input (the test timeout is the bound)', () => {
    const schema = { type: 'object', properties: { note: { type: 'string', pattern: '(\\.+)+!' } } };
    expect(() => checkOutputSchema(schema)).not.toThrow();
    const dots = '.'.repeat(50_000);
    expect(parseOutput(JSON.stringify({ note: dots }), schema)).toMatchObject({ ok: false, reason: expect.stringContaining('pattern') });
    expect(parseOutput(JSON.stringify({ note: `${dots}!` }), schema)).toEqual({ ok: true, json: { note: `${dots}!` } });
  });

  it.each([
    ['backreference', '(a)\\1'],
    ['lookahead', 'a(?=b)'],
    ['negative lookahead', '^(?!x)'],
    ['lookbehind', '(?<=a)b'],
  ])('a %s is a 400 invalid_template naming the pattern', (_, pattern) => {
    const r = rejection({ type: 'object', properties: { s: { type: 'string', pattern } } });
    expect(r).toMatchObject({ code: 'invalid_template', details: { pattern } });
    expect(r.message).toMatch(/RE2/);
  });

  it('a patternProperties key RE2 cannot run is rejected too', () => {
    expect(rejection({ type: 'object', patternProperties: { '(x)\\1': { type: 'string' } } })).toMatchObject({ code: 'invalid_template', details: { pattern: '(x)\\1' } });
  });

  it('bounds pattern length, alone and in all', () => {
    const long = 'a'.repeat(MAX_PATTERN_LENGTH + 1);
    expect(rejection({ type: 'string', pattern: long }).message).toMatch(/longer than/);
    const five = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`p${i}`, { type: 'string', pattern: `${i}${'b'.repeat(MAX_PATTERN_LENGTH - 1)}` }]));
    expect(rejection({ type: 'object', properties: five }).message).toMatch(/in all/);
  });
});

describe('outputSchema limits and the rest of validation', () => {
  it('an oversize or too deep schema is a 400 invalid_template', () => {
    expect(rejection({ type: 'string', description: 'x'.repeat(70_000) })).toMatchObject({ code: 'invalid_template', details: { limit: 65_536 } });
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 20; i++) deep = { type: 'object', properties: { a: deep } };
    expect(rejection(deep)).toMatchObject({ code: 'invalid_template', message: expect.stringMatching(/deeper than 32/) });
  });

  it('$refs compile to calls, not copies: a definition used 500 times compiles once and still validates', () => {
    const big = { type: 'object', properties: Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`p${i}`, { type: 'string' }])) };
    const schema = { definitions: { big }, type: 'array', items: Array.from({ length: 500 }, () => ({ $ref: '#/definitions/big' })) };
    expect(() => checkOutputSchema(schema)).not.toThrow(); // inlined, this took 28 s; a little larger ran out of memory
    const validate = outputValidator(schema);
    expect(validate([{ p0: 'a' }, { p399: 'b' }])).toBe(true);
    expect(validate([{ p0: 1 }])).toBe(false);
  });

  it('not a JSON Schema is a 400 invalid_template', () => {
    expect(rejection({ type: 'nonsense' })).toMatchObject({ code: 'invalid_template', message: expect.stringMatching(/not a valid JSON Schema/) });
  });

  it('two schemas may share an $id (ajv keeps none of them beyond the LRU)', () => {
    expect(() => checkOutputSchema({ $id: 'https://example.com/s', type: 'string' })).not.toThrow();
    expect(() => checkOutputSchema({ $id: 'https://example.com/s', type: 'number' })).not.toThrow();
    expect(outputValidator({ $id: 'https://example.com/s', type: 'number' })(1)).toBe(true);
  });

  it('uniqueItems gives the same answers as ajv\'s own', () => {
    const schema = { type: 'array', uniqueItems: true };
    const ours = outputValidator(schema);
    const theirs = native.compile(schema);
    for (const v of [[], [1, 2, 3], [1, 2, 1], [{ a: 1, b: 2 }, { b: 2, a: 1 }], [[1], [1, 0]], ['1', 1], [null, null], [{ a: [1, { b: 2 }] }, { a: [1, { b: 3 }] }]]) {
      expect([v, ours(v)]).toEqual([v, theirs(v)]);
    }
    expect(outputValidator({ type: 'array', uniqueItems: false })([1, 1])).toBe(true);
  });

  it('the url format checks at most MAX_URL_LENGTH characters (its regex is quadratic)', () => {
    const url = outputValidator({ type: 'string', format: 'url' });
    expect(url('https://example.com/a')).toBe(true);
    expect(url(`https://example.com/${'a'.repeat(MAX_URL_LENGTH)}`)).toBe(false);
    expect(url(`http://a@${':'.repeat(100_000)}`)).toBe(false);
  });

  it('a fence around the JSON is tolerated; a fence-like flood is just not JSON', () => {
    const schema = { type: 'object' };
    expect(parseOutput('```json\n{"a":1}\n```', schema)).toEqual({ ok: true, json: { a: 1 } });
    expect(parseOutput('  ```\n{"a":2}```  ', schema)).toEqual({ ok: true, json: { a: 2 } });
    expect(parseOutput('{"a":3}', schema)).toEqual({ ok: true, json: { a: 3 } });
    expect(parseOutput(`\`\`\`${' '.repeat(100_000)}x`, schema)).toEqual({ ok: false, reason: 'the model did not answer with JSON' });
  });

  it('a stored schema that no longer compiles is a failed attempt, not a crash', () => {
    expect(parseOutput('{}', { type: 'string', pattern: '(a)\\1' })).toMatchObject({ ok: false, reason: expect.stringMatching(/cannot be compiled/) });
  });
});
