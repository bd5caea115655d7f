-- The admitting request's W3C traceparent (tracing on): GET /v1/jobs/:id shows its trace id, joiners link to it,
-- and a job enqueued again from its row (reconciler, replay) continues that trace. Null when tracing was off.
ALTER TABLE "generations" ADD COLUMN "traceparent" text;