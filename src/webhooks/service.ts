import { and, asc, eq, sql } from 'drizzle-orm';
import type { Caller } from '../auth/caller.js';
import type { Config } from '../config/index.js';
import { Batcher } from '../db/batcher.js';
import type { Db } from '../db/client.js';
import { newId } from '../db/ids.js';
import { apiKeys, webhookAttempts, webhookDisabled, webhookSubscriptions, type WebhookEvent } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';
import { toJobDto } from '../jobs/dto.js';
import type { Jobs } from '../jobs/service.js';
import type { Queues, WebhookJobData } from '../queue/queues.js';
import { BlockedAddressError, resolveAllowed } from '../http/address.js';
import { newWebhookSecret } from './signature.js';

/** `webhook` of a generate or batch request. */
export interface WebhookSpec {
  url: string;
  events?: WebhookEvent[];
}

/** Events a generate webhook sends when the request names none. */
export const DEFAULT_JOB_EVENTS: WebhookEvent[] = ['completed', 'dead', 'canceled'];
/** Events a batch webhook sends when the request names none. */
export const DEFAULT_BATCH_EVENTS: WebhookEvent[] = ['batch.completed'];

/**
 * Webhook subscriptions, secrets and the enqueueing of messages. Both sides use it: the API
 * checks and records subscriptions, and `ended` listens after a generation settles (AfterSettle). Each
 * message is enqueued with a deterministic BullMQ job id (`webhook-id`), so a settlement seen
 * twice (a retried completion, the API and a worker racing) sends it once.
 */
export class Webhooks {
  constructor(
    private readonly db: Db,
    private readonly jobs: Pick<Jobs, 'find' | 'settledAmong'>,
    private readonly queues: Pick<Queues, 'webhooks'>,
    private readonly config: Pick<Config, 'WEBHOOK_ALLOW_PRIVATE'>,
  ) {}

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
    if ((await this.jobs.settledAmong([generationId])).length) await this.ended(generationId);
  }

  /**
   * A batch webhook naming `completed` or `dead`: one subscription per distinct job its items
   * wait on (one statement), and the jobs that already ended sent at once, as `subscribe` does.
   */
  async subscribeMany(generationIds: string[], apiKeyId: string, spec: Required<WebhookSpec>): Promise<void> {
    const events = spec.events.filter((e) => e !== 'batch.completed');
    if (!events.length || !generationIds.length) return;
    const ids = [...new Set(generationIds)];
    await this.db.execute(sql`
      insert into webhook_subscriptions (id, generation_id, api_key_id, url, events)
      select 'whs_' || md5(random()::text || g), g, ${apiKeyId}, ${spec.url}, ${JSON.stringify(events)}::jsonb from unnest(${sql.param(ids)}::text[]) as g`);
    for (const id of await this.jobs.settledAmong(ids)) await this.ended(id);
  }

  /**
   * Generation `id` settled (completed, dead or canceled): one message per subscription that asked
   * for that event (an after-settle listener). Which generations have subscriptions at all is one
   * statement for all those that settle meanwhile (a Batcher), and most have none. Safe to call
   * again for the same settlement: each message's id is deterministic.
   */
  async ended(generationId: string): Promise<void> {
    if (await this.#subscribed.push(generationId)) await this.#jobMessages(generationId);
  }

  readonly #subscribed = new Batcher<string, boolean>(async (ids) => {
    const rows = await this.db.selectDistinct({ id: webhookSubscriptions.generationId }).from(webhookSubscriptions)
      .where(sql`${webhookSubscriptions.generationId} = any(${sql.param(ids)}::text[])`);
    const subscribed = new Set(rows.map((r) => r.id));
    return ids.map((id) => subscribed.has(id));
  });

  async #jobMessages(generationId: string): Promise<void> {
    const row = await this.jobs.find(generationId);
    if (!row || (row.status !== 'completed' && row.status !== 'dead' && row.status !== 'canceled')) return;
    const event: WebhookEvent = row.status;
    const subs = await this.db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.generationId, generationId));
    const body = JSON.stringify(toJobDto(row, false, true));
    const jobs = subs.filter((s) => s.events.includes(event)).map((s) =>
      this.#message({ messageId: `msg_${event}_${s.id}`, event, apiKeyId: s.apiKeyId, url: s.url, generationId, body }));
    if (jobs.length) await this.queues.webhooks.addBulk(jobs);
  }

  /** Enqueues one message (a batch's `batch.completed`); its id makes a repeat a no-op. */
  async enqueue(data: WebhookJobData): Promise<void> {
    await this.queues.webhooks.add(data.event, data, { jobId: data.messageId });
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
