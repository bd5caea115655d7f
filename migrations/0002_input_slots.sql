CREATE TABLE "input_slots" (
	"input_hash" text PRIMARY KEY NOT NULL,
	"generation_id" text NOT NULL,
	"state" text NOT NULL,
	"expires_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "generations" ADD COLUMN "result_encoding" text;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD COLUMN "response_encoding" text;--> statement-breakpoint
-- Backfill: each hash's slot names its in-flight generation, else its newest completed one (until completed_at + TTL), else it is open.
INSERT INTO "input_slots" ("input_hash", "generation_id", "state", "expires_at")
SELECT DISTINCT ON ("input_hash") "input_hash", "id",
	CASE WHEN "status" IN ('queued', 'active', 'failed') THEN 'in_flight' WHEN "status" = 'completed' THEN 'completed' ELSE 'open' END,
	CASE WHEN "status" = 'completed' THEN "completed_at" + make_interval(secs => "cache_ttl_seconds") END
FROM "generations"
ORDER BY "input_hash", ("status" IN ('queued', 'active', 'failed')) DESC, ("status" = 'completed') DESC, "completed_at" DESC NULLS LAST;
