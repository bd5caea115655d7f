import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import type { RouteStep } from '../llm/result.js';

/** Appends a step to a generation's route log (a model group's call that moved on from a deployment), in one statement. */
export async function noteRouteStep(db: Db, id: string, step: RouteStep): Promise<void> {
  await db.execute(sql`update generations set route_log = coalesce(route_log, '[]'::jsonb) || ${JSON.stringify([step])}::jsonb where id = ${id}`);
}
