import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKeys } from '../auth/keys.js';
import { AppError } from '../errors/app-error.js';
import type { Queues } from '../queue/queues.js';

export interface BullBoardOptions {
  queues: Pick<Queues, 'generation' | 'deadLetter' | 'webhooks'>;
  apiKeys: Pick<ApiKeys, 'resolve'>;
  /** Where the board is served. @defaultValue '/admin/queues' */
  basePath?: string;
}

/** The admin key from `Authorization: Basic <any user>:<admin key>` (a browser's login prompt) or `Bearer <admin key>`. */
function presentedKey(header: string | undefined): string | undefined {
  const m = header ? /^(Basic|Bearer)\s+(\S+)\s*$/i.exec(header) : null;
  if (!m) return undefined;
  if (m[1]!.toLowerCase() === 'bearer') return m[2];
  const decoded = Buffer.from(m[2]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

/**
 * Bull Board for the generation, dead-letter and webhooks queues, for the admin key
 * only: every page, asset and API call of the board (so every retry, clean,
 * pause or removal) needs it. A browser logs in through its own Basic auth
 * prompt, with the admin key as the password (any user name).
 * State-changing calls must also come from the board's own origin, since a
 * browser replays Basic credentials on cross-site requests.
 */
export default async function bullBoard(app: FastifyInstance, opts: BullBoardOptions): Promise<void> {
  const basePath = opts.basePath ?? '/admin/queues';
  const adapter = new FastifyAdapter();
  adapter.setBasePath(basePath);
  createBullBoard({
    queues: [
      new BullMQAdapter(opts.queues.generation, { description: 'Generation jobs (Postgres table generations is the record)' }),
      new BullMQAdapter(opts.queues.deadLetter, {
        allowRetries: false,
        description: 'Copies of dead generations; replay one with POST /v1/admin/dead-letters/:id/replay',
      }),
      new BullMQAdapter(opts.queues.webhooks, { description: 'Webhook messages (every attempt is recorded in Postgres table webhook_attempts)' }),
    ],
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'PromptLab queues' } },
  });

  const deny = (reply: FastifyReply, err: AppError) =>
    reply.code(err.statusCode).header('www-authenticate', 'Basic realm="PromptLab admin", charset="UTF-8"').send(err.toBody());

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const key = presentedKey(request.headers.authorization);
    const caller = key ? await opts.apiKeys.resolve(key) : undefined;
    if (!caller?.admin) return deny(reply, new AppError('unauthorized', 'The queue dashboard needs the admin key: log in with any user name and the admin key as password.'));
    request.caller = caller;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      const site = request.headers['sec-fetch-site'];
      const origin = request.headers.origin;
      const sameOrigin = origin === undefined || URL.parse(origin)?.host === request.headers.host;
      if ((site !== undefined && site !== 'same-origin' && site !== 'none') || !sameOrigin) {
        return reply.code(403).send(new AppError('forbidden', 'Queue actions must come from the dashboard itself.').toBody());
      }
    }
  });
  await app.register(adapter.registerPlugin(), { prefix: basePath });
}
