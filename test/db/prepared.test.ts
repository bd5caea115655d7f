import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, rowsOf, type Database } from '../../src/db/client.js';
import { Ledger } from '../../src/jobs/ledger.js';
import { cloneDatabase } from '../support/context.js';

/**
 * The hot statements run as named prepared statements on a Postgres server (src/db/prepared.ts):
 * seen from the server, in its own view of the connection's statements.
 */
let db: Awaited<ReturnType<typeof cloneDatabase>>;
let database: Database;
beforeAll(async () => {
  db = await cloneDatabase();
  database = await openDatabase({ url: db.url, dataDir: '', poolSize: 1 }); // one connection: the view below is its
});
afterAll(async () => {
  await database?.close();
  await db?.drop();
});

const admission = (i: number) => ({
  id: `gen_prep${i}`, inputHash: `prep-${i}`, templateId: null, templateVersion: null, provider: 'fake', model: 'fake-1', system: null,
  messages: [{ role: 'user' as const, content: `hello ${i}` }], maxTokens: 10, temperature: 0, outputSchema: null, cacheTtlSeconds: 60, apiKeyId: 'key_prep',
});

describe('prepared statements', () => {
  it('the admission and the completion are parsed once per connection, under one name each, and answer as before; the claim stays unnamed', async () => {
    const ledger = new Ledger(database.db);
    for (let i = 0; i < 3; i++) {
      expect(await ledger.admit(admission(i))).toBe(true);
      expect(await ledger.admit({ ...admission(i), id: `gen_prep${i}b` })).toBe(false); // the slot is taken
      expect(await ledger.claim(`gen_prep${i}`)).toBe('claimed');
      expect(await ledger.complete({ id: `gen_prep${i}`, text: 'an answer', json: null, finishReason: 'stop', costUsd: 0.001, inputTokens: 3, outputTokens: 2 })).toMatchObject({ costUsd: 0.001 });
    }
    const names = rowsOf<{ name: string; statement: string }>(await database.db.execute(sql`select name, statement from pg_prepared_statements order by name`));
    expect(names.map((n) => n.name)).toEqual([expect.stringMatching(/^pl_admit_[0-9a-f]{16}$/), expect.stringMatching(/^pl_complete_[0-9a-f]{16}$/)]);
    expect(names[0]!.statement).toContain('insert into input_slots');
    const rows = rowsOf<{ n: string }>(await database.db.execute(sql`select count(*) as n from generations where status = 'completed' and cost_usd = 0.001`));
    expect(Number(rows[0]!.n)).toBe(3);
  });
});
