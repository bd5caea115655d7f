CREATE TABLE "batch_items" (
	"batch_id" text NOT NULL,
	"idx" integer NOT NULL,
	"custom_id" text,
	"generation_id" text NOT NULL,
	"cached" boolean DEFAULT false NOT NULL,
	"settled" boolean DEFAULT false NOT NULL,
	CONSTRAINT "batch_items_batch_id_idx_pk" PRIMARY KEY("batch_id","idx")
);
--> statement-breakpoint
CREATE TABLE "batches" (
	"id" text PRIMARY KEY NOT NULL,
	"api_key_id" text NOT NULL,
	"project_id" text DEFAULT 'default' NOT NULL,
	"template_id" text,
	"status" text NOT NULL,
	"total" integer NOT NULL,
	"cached_count" integer DEFAULT 0 NOT NULL,
	"priority" text,
	"webhook_url" text,
	"webhook_events" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"canceled_at" timestamp with time zone,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "webhook_attempts" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "webhook_attempts_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"message_id" text NOT NULL,
	"generation_id" text,
	"batch_id" text,
	"api_key_id" text NOT NULL,
	"event" text NOT NULL,
	"url" text NOT NULL,
	"attempt" integer NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"status_code" integer,
	"duration_ms" integer NOT NULL,
	"error" text,
	"delivered" boolean NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhook_disabled" (
	"api_key_id" text NOT NULL,
	"url" text NOT NULL,
	"disabled_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "webhook_disabled_api_key_id_url_pk" PRIMARY KEY("api_key_id","url")
);
--> statement-breakpoint
CREATE TABLE "webhook_subscriptions" (
	"id" text PRIMARY KEY NOT NULL,
	"generation_id" text NOT NULL,
	"api_key_id" text NOT NULL,
	"url" text NOT NULL,
	"events" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "webhook_secret" text;--> statement-breakpoint
ALTER TABLE "generations" ADD COLUMN "batch_id" text;--> statement-breakpoint
CREATE INDEX "batch_items_generation" ON "batch_items" USING btree ("generation_id") WHERE not "batch_items"."settled";--> statement-breakpoint
CREATE INDEX "batch_items_unsettled" ON "batch_items" USING btree ("batch_id") WHERE not "batch_items"."settled";--> statement-breakpoint
CREATE INDEX "batches_key_created" ON "batches" USING btree ("api_key_id","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "batches_project_created" ON "batches" USING btree ("project_id","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "webhook_attempts_generation" ON "webhook_attempts" USING btree ("generation_id","id");--> statement-breakpoint
CREATE INDEX "webhook_attempts_batch" ON "webhook_attempts" USING btree ("batch_id","id");--> statement-breakpoint
CREATE INDEX "webhook_subscriptions_generation" ON "webhook_subscriptions" USING btree ("generation_id");