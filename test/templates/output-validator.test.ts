import { afterEach, describe, expect, it } from 'vitest';
import { OutputValidator } from '../../workers/output-validator.js';

const SHAPE = { type: 'object', required: ['a'], properties: { a: { type: 'integer' }, b: { type: 'string', pattern: '^x+$' } } };

/** Validates in 2^levels steps (see validation-deadline.test.ts). */
function fanOut(levels: number): Record<string, unknown> {
  const $defs: Record<string, unknown> = { [`d${levels}`]: { type: 'object' } };
  for (let i = 0; i < levels; i++) $defs[`d${i}`] = { allOf: [{ $ref: `#/$defs/d${i + 1}` }, { $ref: `#/$defs/d${i + 1}` }] };
  return { $ref: '#/$defs/d0', $defs };
}

describe('OutputValidator (a worker thread with a deadline)', () => {
  let v: OutputValidator;
  afterEach(() => v.close());

  it('answers like parseOutput, with the code to fail an attempt with', async () => {
    v = new OutputValidator({ timeoutMs: 5000 });
    expect(await v.validate('```json\n{"a":1,"b":"xx"}\n```', SHAPE)).toEqual({ ok: true, json: { a: 1, b: 'xx' } });
    expect(await v.validate('{"a":"1"}', SHAPE)).toMatchObject({ ok: false, code: 'output_invalid', reason: expect.stringContaining('must be integer') });
    expect(await v.validate('{"a":1,"b":"y"}', SHAPE)).toMatchObject({ ok: false, code: 'output_invalid', reason: expect.stringContaining('must match pattern') });
    expect(await v.validate('not json', SHAPE)).toMatchObject({ ok: false, code: 'output_invalid', reason: 'the model did not answer with JSON' });
    expect(await v.validate('"a"', { type: 'string', pattern: '(?=a)' })).toMatchObject({ ok: false, code: 'output_schema_invalid', reason: expect.stringContaining('cannot be compiled') });
  });

  it('past the deadline the thread is terminated and the next check runs on a fresh one; queued checks wait their turn', async () => {
    v = new OutputValidator({ timeoutMs: 300 });
    expect(await v.validate('{"a":1}', SHAPE)).toMatchObject({ ok: true }); // the thread is up before the clock matters
    const [slow, after, again] = await Promise.all([
      v.validate('{}', fanOut(32)),
      v.validate('{"a":2}', SHAPE),
      v.validate('{"a":3}', SHAPE),
    ]);
    expect(slow).toEqual({ ok: false, code: 'output_validation_timeout', reason: 'validating the output against outputSchema took longer than 300 ms' });
    expect(after).toEqual({ ok: true, json: { a: 2 } });
    expect(again).toEqual({ ok: true, json: { a: 3 } });
    expect(await v.validate('{}', fanOut(32))).toMatchObject({ code: 'output_validation_timeout' });
    expect(await v.validate('{"a":4}', SHAPE)).toEqual({ ok: true, json: { a: 4 } });
  });

  it('checks are taken round-robin by project: one project\'s slow checks delay another\'s by at most one each', async () => {
    v = new OutputValidator({ timeoutMs: 10_000 });
    await v.validate('{"a":1}', SHAPE); // the thread is up
    const many = { type: 'array', items: { $ref: '#/$defs/d0' }, $defs: fanOut(7).$defs };
    const slow = JSON.stringify(Array.from({ length: 40_000 }, () => ({})));
    const order: string[] = [];
    const track = (name: string, p: Promise<unknown>) => p.then(() => order.push(name));
    await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => track(`a${i}`, v.validate(slow, many, 'prj_a'))),
      ...Array.from({ length: 3 }, (_, i) => track(`b${i}`, v.validate('{"a":1}', SHAPE, 'prj_b'))),
    ]);
    // a0 was running and prj_a's next turn was due when b's arrived; from then on the turns alternate (first come, first served: a0…a5, then b's).
    expect(order).toEqual(['a0', 'a1', 'b0', 'a2', 'b1', 'a3', 'b2', 'a4', 'a5']);
  });

  it('after close, checks are refused', async () => {
    v = new OutputValidator({ timeoutMs: 1000 });
    await v.validate('{"a":1}', SHAPE);
    await v.close();
    await expect(v.validate('{"a":1}', SHAPE)).rejects.toThrow(/closed/);
  });
});
