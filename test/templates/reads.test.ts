import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVERY_PROJECT } from '../../src/auth/caller.js';
import { Templates } from '../../src/templates/service.js';
import { createTestEnv, type TestEnv } from '../support/context.js';
import { setTimeout as sleep } from 'node:timers/promises';

let t: TestEnv;
beforeAll(async () => {
  t = await createTestEnv();
});
afterAll(async () => t?.close());

/** Reads of one template by id, counted (and their answers slowed by `delayMs`) where node-postgres sends them. */
function watchReads(delayMs: number) {
  const sent: number[] = [];
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string }).text ?? '';
    if (!text.startsWith('select') || !text.includes('from "templates" where')) return (query as (...a: unknown[]) => unknown).apply(this, args);
    sent.push(Date.now());
    // Sent at once, answered `delayMs` later: the row is the one Postgres had when the read began.
    const last = args.length - 1;
    const done = args[last];
    if (typeof done === 'function') args[last] = (...answer: unknown[]) => setTimeout(() => done(...answer), delayMs);
    const answer = (query as (...a: unknown[]) => unknown).apply(this, args);
    return answer instanceof Promise ? answer.then((a) => sleep(delayMs, a)) : answer;
  } as typeof query;
  restore = () => { pg.Client.prototype.query = query; };
  return sent;
}
let restore = () => {};
afterEach(() => restore());

describe('template reads', () => {
  it('requests that miss at once send one read', async () => {
    const { id } = await t.app.svc.templates.create({ name: 'burst', body: 'Hi {{x}}' }, 'default');
    const templates = new Templates(t.database.db, t.app.svc.bus, 5000);
    const sent = watchReads(50);
    const rows = await Promise.all(Array.from({ length: 50 }, () => templates.get(id, EVERY_PROJECT)));
    expect(rows.every((r) => r.id === id)).toBe(true);
    expect(sent).toHaveLength(1);
  });

  it('a template in use is read again in the background: with Postgres slow, no request waits for it after the first', async () => {
    const { id } = await t.app.svc.templates.create({ name: 'hot', body: 'Hi {{x}}' }, 'default');
    const templates = new Templates(t.database.db, t.app.svc.bus, 500);
    const sent = watchReads(60);
    await templates.get(id, EVERY_PROJECT);
    const waits: number[] = [];
    for (const until = Date.now() + 2000; Date.now() < until; await sleep(20)) {
      const at = performance.now();
      await templates.get(id, EVERY_PROJECT);
      waits.push(performance.now() - at);
    }
    expect(sent.length).toBeGreaterThanOrEqual(4); // 2 s of a 0.5 s copy: kept fresh by re-reads
    expect(Math.max(...waits)).toBeLessThan(30); // none waited for a 60 ms read
  });

  it('a change made while a read is in flight is seen by the requests that come after it', async () => {
    const { id } = await t.app.svc.templates.create({ name: 'race', body: 'Old {{x}}' }, 'default');
    const templates = new Templates(t.database.db, t.app.svc.bus, 5000);
    const sent = watchReads(150);
    const before = templates.get(id, EVERY_PROJECT); // its read starts now, and answers in 150 ms
    await sleep(20);
    // The change lands and is announced while that read is still on its way.
    await t.database.db.execute(`update templates set body = 'New {{x}}', version = version + 1 where id = '${id}'`);
    await t.app.svc.bus.publish({ kind: 'template', id });
    const after = await templates.get(id, EVERY_PROJECT);
    expect(after.body).toBe('New {{x}}');
    expect((await before).body).toBe('Old {{x}}');
    expect(sent.length).toBeGreaterThanOrEqual(2); // the change started a read of its own
  });
});
