ALTER TABLE "generations" ADD COLUMN "request_options" jsonb;--> statement-breakpoint
ALTER TABLE "generations" ADD COLUMN "end_user" text;--> statement-breakpoint
ALTER TABLE "generations" ADD COLUMN "metadata" jsonb;--> statement-breakpoint
ALTER TABLE "generations" ADD COLUMN "result_extra" jsonb;--> statement-breakpoint
ALTER TABLE "generations" ADD COLUMN "cache_read_tokens" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "generations" ADD COLUMN "cache_write_tokens" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "generations" ADD COLUMN "reasoning_tokens" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "generations" ADD COLUMN "deleted_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "generations_end_user" ON "generations" USING btree ("project_id","end_user","created_at" DESC NULLS LAST) WHERE "generations"."end_user" is not null;