import { sql } from 'drizzle-orm';
import type { Scope } from '../auth/caller.js';
import { rowsOf, type Db } from '../db/client.js';
import { generations } from '../db/schema.js';
import { inScope } from '../db/scope.js';

/**
 * Forgets a settled generation's answer (`DELETE /v1/responses/:id`), in one statement: the row is
 * marked deleted (kept for the accounts), and its input's slot opens when it held the slot, so
 * the answer is never served again from Postgres (nor from the cache, once the caller drops the
 * entry). Resolves to its input hash, or undefined when `scope` has no such settled, undeleted row.
 */
export async function forgetRow(db: Db, id: string, scope: Scope): Promise<string | undefined> {
  const res = await db.execute(sql`
    with row as (
      update generations set deleted_at = now()
      where id = ${id} and ${inScope(generations.projectId, scope) ?? sql`true`} and deleted_at is null and status in ('completed', 'dead', 'canceled')
      returning id, input_hash
    ), slot as (
      update input_slots s set state = 'open', expires_at = null
      from row where s.input_hash = row.input_hash and s.generation_id = row.id and s.state = 'completed'
    )
    select input_hash from row`);
  return rowsOf<{ input_hash: string }>(res)[0]?.input_hash;
}
