import { sql } from 'drizzle-orm';
import { Batcher } from '../db/batcher.js';
import { rowsOf, type Db } from '../db/client.js';
import { IN_FLIGHT_SQL } from '../db/schema.js';
import type { GenerationJobData } from '../queue/queues.js';

/** A generation as admitted: the job's data plus the template version it was rendered from. */
export type Admission = Omit<GenerationJobData, 'refresh'> & { templateVersion: number };

export interface Completion {
  id: string;
  text: string;
  json: unknown;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** What the cache needs of a row just completed (the totals include earlier failed attempts). */
export interface Completed {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  completedAt: Date;
}

/**
 * The hot writes of the generations table, each coalesced across concurrent
 * callers into one statement (see Batcher): admitting a row, claiming it for
 * an attempt, completing it. Every write is guarded by the in-flight statuses,
 * so it can neither resurrect a settled row nor settle one twice.
 */
export class Ledger {
  readonly #admit: Batcher<Admission, boolean>;
  readonly #claim: Batcher<string, boolean>;
  readonly #complete: Batcher<Completion, Completed | undefined>;

  constructor(db: Db) {
    // One array parameter per column: the statement is the same whatever the batch size.
    this.#admit = new Batcher(async (rows) => {
      const col = <T>(f: (r: Admission) => T) => sql.param(rows.map(f));
      const res = await db.execute(sql`
        insert into generations (id, template_id, template_version, provider, model, input_hash, status, system, prompt,
          max_tokens, temperature, output_schema, cache_ttl_seconds, api_key_id, request_id)
        select id, tid, tv, p, m, h, 'queued', sys, pr, mt, temp, os, ttl, k, rid
        from unnest(${col((r) => r.id)}::text[], ${col((r) => r.templateId)}::text[], ${col((r) => r.templateVersion)}::int[],
          ${col((r) => r.provider)}::text[], ${col((r) => r.model)}::text[], ${col((r) => r.inputHash)}::text[],
          ${col((r) => r.system)}::text[], ${col((r) => r.prompt)}::text[], ${col((r) => r.maxTokens)}::int[],
          ${col((r) => r.temperature)}::float8[], ${col((r) => (r.outputSchema ? JSON.stringify(r.outputSchema) : null))}::jsonb[],
          ${col((r) => r.cacheTtlSeconds)}::int[], ${col((r) => r.apiKeyId)}::text[], ${col((r) => r.requestId ?? null)}::text[])
          as v(id, tid, tv, p, m, h, sys, pr, mt, temp, os, ttl, k, rid)
        on conflict (input_hash) where status in ${IN_FLIGHT_SQL} do nothing
        returning id`);
      const ids = new Set(rowsOf<{ id: string }>(res).map((r) => r.id));
      return rows.map((r) => ids.has(r.id));
    }, { maxInFlight: 4 });

    this.#claim = new Batcher(async (ids) => {
      const res = await db.execute(sql`
        update generations set status = 'active', attempts = attempts + 1, started_at = coalesce(started_at, now())
        where id = any(${sql.param(ids)}::text[]) and status in ${IN_FLIGHT_SQL}
        returning id`);
      const claimed = new Set(rowsOf<{ id: string }>(res).map((r) => r.id));
      return ids.map((id) => claimed.has(id));
    }, { maxInFlight: 4 });

    this.#complete = new Batcher(async (items) => {
      const res = await db.execute(sql`
        update generations g set status = 'completed', result_text = v.text, result_json = v.json,
          error_code = null, error_message = null, completed_at = now(),
          input_tokens = g.input_tokens + v.it, output_tokens = g.output_tokens + v.ot, cost_usd = g.cost_usd + v.cost
        from unnest(${sql.param(items.map((i) => i.id))}::text[], ${sql.param(items.map((i) => i.text))}::text[],
                    ${sql.param(items.map((i) => (i.json === undefined ? null : JSON.stringify(i.json))))}::jsonb[],
                    ${sql.param(items.map((i) => i.inputTokens))}::int[], ${sql.param(items.map((i) => i.outputTokens))}::int[],
                    ${sql.param(items.map((i) => i.costUsd))}::numeric[]) as v(id, text, json, it, ot, cost)
        where g.id = v.id and g.status in ${IN_FLIGHT_SQL}
        returning g.id, g.input_tokens, g.output_tokens, g.cost_usd, g.completed_at`);
      const byId = new Map(
        rowsOf<{ id: string; input_tokens: number; output_tokens: number; cost_usd: string; completed_at: string | Date }>(res).map((r) => [r.id, {
          inputTokens: r.input_tokens, outputTokens: r.output_tokens, costUsd: Number(r.cost_usd), completedAt: new Date(r.completed_at),
        }]),
      );
      return items.map((i) => byId.get(i.id));
    }, { maxInFlight: 4 });
  }

  /** Inserts a `queued` row; false when an identical input is already in flight. */
  admit(row: Admission): Promise<boolean> {
    return this.#admit.push(row);
  }

  /** Marks an attempt started (`active`, attempts + 1); false when the row already settled. */
  claim(id: string): Promise<boolean> {
    return this.#claim.push(id);
  }

  /** Stores the result, once; undefined when the row had already settled. */
  complete(c: Completion): Promise<Completed | undefined> {
    return this.#complete.push(c);
  }
}
