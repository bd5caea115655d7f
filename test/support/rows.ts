import { sql } from 'drizzle-orm';
import { rowsOf } from '../../src/db/client.js';
import type { TestEnv } from './context.js';

/** What a request can leave behind in Postgres: row counts, and the requests the usage meter counted. */
export interface StoredRows {
  generations: number;
  templates: number;
  apiKeys: number;
  idempotencyKeys: number;
  usageRequests: number;
}

/** Counts what is stored, after writing the usage meter's pending counters, in one query. */
export async function storedRows(t: TestEnv): Promise<StoredRows> {
  await t.app.svc.meter.flush();
  const res = await t.database.db.execute(sql`select
    (select count(*) from generations)::int as generations,
    (select count(*) from templates)::int as templates,
    (select count(*) from api_keys)::int as "apiKeys",
    (select count(*) from idempotency_keys)::int as "idempotencyKeys",
    (select coalesce(sum(requests), 0) from usage_daily)::int as "usageRequests"`);
  return rowsOf<StoredRows>(res)[0]!;
}
