import { and, asc, eq, sql } from 'drizzle-orm';
import type { Caller } from '../auth/caller.js';
import { batchCounts, toBatchDto } from '../batches/view.js';
import type { Config } from '../config/index.js';
import { rowsOf, type Db } from '../db/client.js';
import { newId } from '../db/ids.js';
import { apiKeys, generations, webhookAttempts, webhookDisabled, webhookSubscriptions, type BatchRow, type WebhookEvent } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';
import { toJobDto } from '../jobs/dto.js';
import type { Queues, WebhookJobData } from '../queue/queues.js';
import { BlockedAddressError, resolveAllowed } from './address.js';
import { newWebhookSecret } from './signature.js';

/** `webhook` of a generate or batch request. */
export interface WebhookSpec {
  url: string;
  events?: WebhookEvent[];
}

/** Events a generate webhook sends when the request names none. */
export const DEFAULT_JOB_EVENTS: WebhookEvent[] = ['completed', 'dead'];
/** Events a batch webhook sends when the request names none. */
export const DEFAULT_BATCH_EVENTS: WebhookEvent[] = ['batch.completed'];

/**
 * Webhook subscriptions, secrets and the enqueueing of messages. Both sides use it: the API
 * checks and records subscriptions, the workers call `ended` when a generation settles. Each
 * message is enqueued with a deterministic BullMQ job id (`webhook-id`), so a settlement seen
 * twice (a retried completion, the API and a worker racing) sends it once.
 */
export class Webhooks {
  constructor(private readonly db: Db, private readonly queues: Pick<Queues, 'webhooks'>, private readonly config: Pick<Config, 'WEBHOOK_ALLOW_PRIVATE'>) {}

  /**
   * A webhook a request asks for, checked at submit: http(s), every address its host resolves to
   * public (unless WEBHOOK_ALLOW_PRIVATE), not disabled by a 410, and the key has a secret to sign with.
   */
  async check(caller: Caller, spec: WebhookSpec, defaults: WebhookEvent[]): Promise<Required<WebhookSpec>> {
    let u: URL;
    try {
      u = new URL(spec.url);
    } catch {
      throw new AppError('webhook_url_forbidden', 'The webhook URL is not a URL.');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new AppError('webhook_url_forbidden', 'The webhook URL must be http or https.');
    if (u.username || u.password) throw new AppError('webhook_url_forbidden', 'The webhook URL may not carry credentials.');
    try {
      await resolveAllowed(u.hostname, this.config.WEBHOOK_ALLOW_PRIVATE);
    } catch (err) {
      throw new AppError('webhook_url_forbidden', err instanceof BlockedAddressError ? err.message : `${u.hostname} does not resolve.`);
    }
    const url = u.toString();
    const [key] = await this.db.select({ secret: apiKeys.webhookSecret, disabled: webhookDisabled.url }).from(apiKeys)
      .leftJoin(webhookDisabled, and(eq(webhookDisabled.apiKeyId, apiKeys.id), eq(webhookDisabled.url, url)))
      .where(eq(apiKeys.id, caller.keyId));
    if (!key?.secret) throw new AppError('webhook_secret_required');
    if (key.disabled) throw new AppError('webhook_disabled', undefined, { url });
    return { url, events: [...new Set(spec.events?.length ? spec.events : defaults)] };
  }

  /** Records that `caller` wants to hear when generation `id` ends; sends at once if it already has. */
  async subscribe(generationId: string, caller: Caller, spec: Required<WebhookSpec>): Promise<void> {
    await this.db.insert(webhookSubscriptions).values({ id: newId('whs'), generationId, apiKeyId: caller.keyId, url: spec.url, events: spec.events });
    // The generation may have settled before the row above was visible to the worker that settled it.
    const [row] = await this.db.select({ status: generations.status }).from(generations).where(eq(generations.id, generationId));
    if (row?.status === 'completed' || row?.status === 'dead') await this.ended(generationId);
  }

  /**
   * Generation `id` completed or died: one message per subscription that asked for that event, and
   * its batches' items counted settled; a batch whose last item this was completes, with its
   * `batch.completed` message. Safe to call again for the same settlement.
   */
  async ended(generationId: string): Promise<void> {
    const [row] = await this.db.select().from(generations).where(eq(generations.id, generationId));
    if (!row || (row.status !== 'completed' && row.status !== 'dead')) return;
    const event: WebhookEvent = row.status;
    const subs = await this.db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.generationId, generationId));
    const body = JSON.stringify(toJobDto(row));
    const jobs = subs.filter((s) => s.events.includes(event)).map((s) =>
      this.#message({ messageId: `msg_${event}_${s.id}`, event, apiKeyId: s.apiKeyId, url: s.url, generationId, body }));
    if (jobs.length) await this.queues.webhooks.addBulk(jobs);
    await this.#settleItems(sql`i.generation_id = ${generationId}`);
  }

  /** Items of batch `batchId` whose generations have settled, counted (used after admission and cancel). */
  async settleBatch(batchId: string): Promise<void> {
    await this.#settleItems(sql`i.batch_id = ${batchId}`);
  }

  /** Marks settled items (each once), lowers their batches' `pending`, and completes batches reaching 0. */
  async #settleItems(where: ReturnType<typeof sql>): Promise<void> {
    const res = await this.db.execute(sql`
      with items as (
        update batch_items i set settled = true from generations g
        where ${where} and not i.settled and g.id = i.generation_id and g.status in ('completed', 'dead')
        returning i.batch_id
      ), dec as (select batch_id, count(*)::int as n from items group by batch_id order by batch_id)
      update batches b set pending = b.pending - dec.n,
        completed_at = case when b.pending - dec.n = 0 then now() else b.completed_at end,
        status = case when b.pending - dec.n = 0 and b.status = 'in_progress' then 'completed' else b.status end
      from dec where b.id = dec.batch_id and b.completed_at is null
      returning b.*`);
    const done = rowsOf<Record<string, unknown>>(res).map(batchRowOf).filter((b) => b.completedAt);
    await Promise.all(done.map((b) => this.#batchCompleted(b)));
  }

  async #batchCompleted(b: BatchRow): Promise<void> {
    if (!b.webhookUrl || !(b.webhookEvents ?? []).includes('batch.completed')) return;
    const body = JSON.stringify(toBatchDto(b, await batchCounts(this.db, b.id)));
    await this.queues.webhooks.add('batch.completed', ...this.#args({ messageId: `msg_batch_${b.id}`, event: 'batch.completed', apiKeyId: b.apiKeyId, url: b.webhookUrl, batchId: b.id, body }));
  }

  #args(data: WebhookJobData) {
    return [data, { jobId: data.messageId }] as const;
  }

  #message(data: WebhookJobData) {
    return { name: data.event, data, opts: { jobId: data.messageId } };
  }

  /** Delivery attempts for a generation, oldest first. */
  attemptsOf(generationId: string) {
    return this.db.select().from(webhookAttempts).where(eq(webhookAttempts.generationId, generationId)).orderBy(asc(webhookAttempts.id));
  }

  /**
   * A new signing secret for key `keyId` (shown once; the old one stops signing at once), and the
   * key's endpoints disabled by a 410 enabled again: a new secret is a new start.
   */
  async rotateSecret(keyId: string): Promise<string> {
    const secret = newWebhookSecret();
    const [row] = await this.db.update(apiKeys).set({ webhookSecret: secret }).where(eq(apiKeys.id, keyId)).returning({ id: apiKeys.id });
    if (!row) throw new AppError('api_key_not_found');
    await this.db.delete(webhookDisabled).where(eq(webhookDisabled.apiKeyId, keyId));
    return secret;
  }
}

/** A `batches` row as `returning b.*` gives it (snake_case, timestamps as text). */
function batchRowOf(r: Record<string, unknown>): BatchRow {
  const at = (v: unknown) => (v == null ? null : new Date(v as string));
  return {
    id: r.id as string, apiKeyId: r.api_key_id as string, templateId: (r.template_id as string | null) ?? null,
    status: r.status as BatchRow['status'], total: r.total as number, pending: r.pending as number, cachedCount: r.cached_count as number,
    priority: (r.priority as string | null) ?? null, webhookUrl: (r.webhook_url as string | null) ?? null,
    webhookEvents: (r.webhook_events as WebhookEvent[] | null) ?? null,
    createdAt: at(r.created_at)!, canceledAt: at(r.canceled_at), completedAt: at(r.completed_at),
  };
}
