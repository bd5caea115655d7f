import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { NO_TEMPLATE } from '../db/schema.js';

export interface UsageDelta {
  apiKeyId: string;
  /** Null: a generation not rendered from a template (stored as `NO_TEMPLATE`). */
  templateId: string | null;
  requests?: number;
  cacheHits?: number;
  /** What a cache hit would have cost: the original generation's cost. */
  savedUsd?: number;
}

interface Counters { requests: number; cacheHits: number; savedNanos: number }

const nanos = (usd = 0) => Math.round(usd * 1e9);
let day = { until: 0, value: '' };
/** Today's UTC date, recomputed at most once per second. */
const today = () => {
  const now = Date.now();
  if (now >= day.until) day = { until: now + 1000, value: new Date(now).toISOString().slice(0, 10) };
  return day.value;
};

/**
 * Request counters per day, API key and template (seed 004's batch updates; `NO_TEMPLATE` for none):
 * requests, cache hits and what the hits saved. `record` only adds to a map in
 * memory; every `flushMs` (and on close, so on SIGTERM) one upsert statement
 * writes them to `usage_daily`, so a request costs no I/O for accounting. A
 * process killed with SIGKILL loses at most `flushMs` of these counters.
 * Spend itself (tokens and cost) is not counted here: the worker writes it in
 * the statement that records it on the generation (`Ledger`), so it is exact.
 */
export class UsageMeter {
  #pending = new Map<string, Counters>();
  readonly #timer: NodeJS.Timeout;
  #flushing: Promise<void> = Promise.resolve();

  constructor(private readonly db: Db, private readonly log: Logger, flushMs: number) {
    this.#timer = setInterval(() => void this.flush(), flushMs);
    this.#timer.unref();
  }

  record(d: UsageDelta): void {
    const k = `${today()}|${d.apiKeyId}|${d.templateId ?? NO_TEMPLATE}`;
    let c = this.#pending.get(k);
    if (!c) this.#pending.set(k, (c = { requests: 0, cacheHits: 0, savedNanos: 0 }));
    c.requests += d.requests ?? 0;
    c.cacheHits += d.cacheHits ?? 0;
    c.savedNanos += nanos(d.savedUsd);
  }

  /** Writes what has accumulated; on failure the counters are put back for the next flush. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#write());
    return this.#flushing;
  }

  async #write(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    // In key order, as every writer of usage_daily locks its rows (see Ledger's spend upsert).
    const entries = [...batch.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, c]) => ({ k: k.split('|') as [string, string, string], c }));
    const col = <T>(f: (e: (typeof entries)[number]) => T) => sql.param(entries.map(f));
    try {
      await this.db.execute(sql`
        insert into usage_daily as u (day, api_key_id, template_id, requests, cache_hits, saved_usd)
        select d, k, t, r, h, s::numeric / 1e9
        from unnest(${col((e) => e.k[0])}::date[], ${col((e) => e.k[1])}::text[], ${col((e) => e.k[2])}::text[],
          ${col((e) => e.c.requests)}::bigint[], ${col((e) => e.c.cacheHits)}::bigint[], ${col((e) => String(e.c.savedNanos))}::bigint[])
          as v(d, k, t, r, h, s)
        on conflict (day, api_key_id, template_id) do update set
          requests = u.requests + excluded.requests, cache_hits = u.cache_hits + excluded.cache_hits, saved_usd = u.saved_usd + excluded.saved_usd`);
    } catch (err) {
      this.log.warn({ err: String(err), rows: entries.length }, 'usage flush failed; will retry');
      for (const { k, c } of entries) {
        const [day, apiKeyId, templateId] = k;
        const key = `${day}|${apiKeyId}|${templateId}`;
        const cur = this.#pending.get(key);
        if (!cur) this.#pending.set(key, c);
        else for (const f of Object.keys(c) as (keyof Counters)[]) cur[f] += c[f];
      }
    }
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}
