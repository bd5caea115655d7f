import type { FastifyInstance } from 'fastify';

/** Polls GET /v1/jobs/:id until its status is one of `statuses` (or fails after `ms`). */
export async function waitForStatus(app: FastifyInstance, headers: Record<string, string>, id: string, statuses: string[], ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const job = (await app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers })).json();
    if (statuses.includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${ms} ms, wanted ${statuses.join('|')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
