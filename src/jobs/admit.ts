import { sql } from 'drizzle-orm';
import { rowsOf, type Db } from '../db/client.js';
import { executeNamed } from '../db/prepared.js';
import { DEFAULT_PROJECT, type Priority } from '../db/schema.js';
import { promptOf } from '../llm/message.js';
import type { GenerationJobData } from '../queue/queues.js';

/** A generation as admitted: the job's data, the template version it was rendered from (if any), and what its first attempt holds of its budgets. */
export type Admission = GenerationJobData & {
  templateVersion: number | null;
  reservedUsd?: number;
  priority?: Priority;
  batchId?: string;
  /** The end user the caller named, and its metadata: kept on the row, not part of the input. */
  endUser?: string;
  metadata?: Record<string, unknown>;
  /**
   * Admit only if no budget applies to the key or template (checked in the same statement):
   * a request that holds nothing in any budget needs no statement of its own to find that out.
   */
  unlessBudgeted?: boolean;
  /** Inserted already claimed by its first attempt (`active`, attempts 1): the admitting process runs it itself (workers/local-start.ts). */
  claimed?: boolean;
};

/** What `Ledger.admit` did: admitted, not (the slot is taken), or not because a budget applies (`unlessBudgeted`). */
export type AdmitOutcome = boolean | 'budgeted';

/**
 * One statement admits a batch: each row takes its input's slot, inserting
 * it or taking over one that is open, or completed and past its TTL (or any
 * completed one for a `refresh`). ON CONFLICT DO UPDATE locks the slot and
 * evaluates its WHERE on the latest committed version, so a completion that
 * commits while this statement runs is seen: the input is answered by that
 * result, never admitted again. Rows of a batch with the same hash are left
 * to the first. A row `unlessBudgeted` that a budget applies to (of its key or
 * template) is neither inserted nor takes the slot: `budgeted`. Slots are taken in input-hash
 * order, so two admissions that share inputs (a batch and the single requests racing it) lock them
 * in the same order and cannot deadlock. A row `claimed` is inserted as its first attempt's claim
 * (`active`, attempts 1, `claimed_at`), as `claimRows` would leave it: the claim folded into the admission.
 */
export async function admitRows(db: Db, rows: Admission[]): Promise<AdmitOutcome[]> {
  const first = new Map<string, Admission>();
  for (const r of rows) if (!first.has(r.inputHash)) first.set(r.inputHash, r);
  const v = [...first.values()];
  const col = <T>(f: (r: Admission) => T) => sql.param(v.map(f));
  const res = await executeNamed(db, 'admit', sql`
    with v as (
      select * from unnest(${col((r) => r.id)}::text[], ${col((r) => r.templateId)}::text[], ${col((r) => r.templateVersion)}::int[],
        ${col((r) => r.provider)}::text[], ${col((r) => r.model)}::text[], ${col((r) => r.inputHash)}::text[],
        ${col((r) => r.system)}::text[], ${col((r) => JSON.stringify(r.messages))}::jsonb[], ${col((r) => promptOf(r.messages))}::text[],
        ${col((r) => r.maxTokens)}::int[], ${col((r) => r.temperature)}::float8[], ${col((r) => r.topP ?? null)}::float8[],
        ${col((r) => (r.stop ? JSON.stringify(r.stop) : null))}::jsonb[], ${col((r) => (r.outputSchema ? JSON.stringify(r.outputSchema) : null))}::jsonb[],
        ${col((r) => r.cacheTtlSeconds)}::int[], ${col((r) => r.apiKeyId)}::text[], ${col((r) => r.requestId ?? null)}::text[],
        ${col((r) => r.refresh === true)}::bool[], ${col((r) => r.reservedUsd ?? 0)}::numeric[], ${col((r) => r.unlessBudgeted === true)}::bool[],
        ${col((r) => r.projectId ?? DEFAULT_PROJECT)}::text[],
        ${col((r) => r.priority ?? 'normal')}::text[], ${col((r) => (r.cancelAt !== undefined ? new Date(r.cancelAt).toISOString() : null))}::timestamptz[],
        ${col((r) => r.batchId ?? null)}::text[], ${col((r) => (r.options ? JSON.stringify(r.options) : null))}::jsonb[],
        ${col((r) => r.endUser ?? null)}::text[], ${col((r) => (r.metadata ? JSON.stringify(r.metadata) : null))}::jsonb[],
        ${col((r) => r.trace?.traceparent ?? null)}::text[], ${col((r) => r.claimed === true)}::bool[])
        as v(id, tid, tv, p, m, h, sys, msgs, pr, mt, temp, topp, stop, os, ttl, k, rid, refresh, reserved, guard, prj, prio, cancel_at, bid, opts, eu, meta, tp, run)
    ), budgeted as (
      select v.id from v where v.guard and exists (select 1 from budgets b
        where (b.scope = 'api_key' and b.scope_id = v.k) or (b.scope = 'template' and b.scope_id = v.tid))
    ), slot as (
      insert into input_slots as s (input_hash, generation_id, state)
      select h, id, 'in_flight' from v where v.id not in (select id from budgeted) order by h
      on conflict (input_hash) do update set generation_id = excluded.generation_id, state = 'in_flight', expires_at = null
      where s.state = 'open' or (s.state = 'completed' and (s.expires_at <= now()
        or (select refresh from v where v.h = excluded.input_hash)))
      returning generation_id
    ), ins as (
      insert into generations (id, template_id, template_version, provider, model, input_hash, status, system, messages, prompt,
        max_tokens, temperature, top_p, stop, output_schema, cache_ttl_seconds, api_key_id, request_id, reserved_usd, reserved_at, project_id, priority, cancel_at, batch_id,
        request_options, end_user, metadata, traceparent, attempts, started_at, claimed_at)
      select id, tid, tv, p, m, h, case when run then 'active' else 'queued' end, sys, msgs, pr, mt, temp, topp, stop, os, ttl, k, rid, reserved, case when reserved > 0 then now() end, prj, prio, cancel_at, bid,
        opts, eu, meta, tp, case when run then 1 else 0 end, case when run then now() end, case when run then now() end
      from v join slot on slot.generation_id = v.id
      returning id
    )
    select id, true as admitted from ins union all select id, false from budgeted`);
  const got = new Map(rowsOf<{ id: string; admitted: boolean }>(res).map((r) => [r.id, r.admitted ? true : 'budgeted' as const]));
  return rows.map((r) => got.get(r.id) ?? false);
}

