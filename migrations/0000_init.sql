CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"tier" text NOT NULL,
	"key_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "api_keys_key_hash_unique" UNIQUE("key_hash")
);
--> statement-breakpoint
CREATE TABLE "generations" (
	"id" text PRIMARY KEY NOT NULL,
	"template_id" text NOT NULL,
	"template_version" integer NOT NULL,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"input_hash" text NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"system" text,
	"prompt" text NOT NULL,
	"max_tokens" integer NOT NULL,
	"temperature" double precision,
	"output_schema" jsonb,
	"cache_ttl_seconds" integer NOT NULL,
	"result_text" text,
	"result_json" jsonb,
	"input_tokens" integer DEFAULT 0 NOT NULL,
	"output_tokens" integer DEFAULT 0 NOT NULL,
	"cost_usd" numeric(20, 9) DEFAULT 0 NOT NULL,
	"error_code" text,
	"error_message" text,
	"api_key_id" text NOT NULL,
	"request_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "templates" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"body" text NOT NULL,
	"system" text,
	"provider" text,
	"model" text,
	"max_tokens" integer,
	"temperature" double precision,
	"output_schema" jsonb,
	"cache_ttl_seconds" integer,
	"key_fields" jsonb,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "generations" ADD CONSTRAINT "generations_template_id_templates_id_fk" FOREIGN KEY ("template_id") REFERENCES "public"."templates"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "generations_in_flight_hash" ON "generations" USING btree ("input_hash") WHERE "generations"."status" in ('queued', 'active', 'failed');--> statement-breakpoint
CREATE INDEX "generations_completed_hash" ON "generations" USING btree ("input_hash","completed_at") WHERE "generations"."status" = 'completed';--> statement-breakpoint
CREATE INDEX "generations_created" ON "generations" USING btree ("created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "generations_status_created" ON "generations" USING btree ("status","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "generations_template_created" ON "generations" USING btree ("template_id","created_at" DESC NULLS LAST);