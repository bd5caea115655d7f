import { eq, sql } from 'drizzle-orm';
import type { Scope } from '../auth/caller.js';
import { rowsOf, type Db } from '../db/client.js';
import { generations, type GenerationRow } from '../db/schema.js';

/**
 * A dead generation queued again (replay): it takes its input's slot unless
 * another generation of that input is in flight (resolves to that one's id).
 */
export async function requeueRow(db: Db, id: string, scope: Scope): Promise<{ row: GenerationRow } | { inFlight: string } | undefined> {
  const project = scope.projectId === null ? sql`true` : sql`project_id = ${scope.projectId}`;
  const res = await db.execute(sql`
    with dead as (select id, input_hash from generations where id = ${id} and status = 'dead' and ${project}),
    slot as (
      insert into input_slots as s (input_hash, generation_id, state)
      select input_hash, id, 'in_flight' from dead
      on conflict (input_hash) do update set generation_id = excluded.generation_id, state = 'in_flight', expires_at = null
      where s.state <> 'in_flight'
      returning generation_id
    )
    update generations g set status = 'queued', error_code = null, error_message = null, completed_at = null
    from slot where g.id = slot.generation_id and g.status = 'dead'
    returning g.id`);
  if (rowsOf(res).length) {
    const [row] = await db.select().from(generations).where(eq(generations.id, id));
    return { row: row! };
  }
  const twin = await db.execute(sql`
    select s.generation_id from generations d join input_slots s on s.input_hash = d.input_hash
    where d.id = ${id} and d.status = 'dead' and s.state = 'in_flight' and ${project}`);
  const [t] = rowsOf<{ generation_id: string }>(twin);
  return t ? { inFlight: t.generation_id } : undefined;
}
