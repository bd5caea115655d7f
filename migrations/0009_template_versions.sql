CREATE TABLE "template_versions" (
	"template_id" text NOT NULL,
	"version" integer NOT NULL,
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
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "template_versions_template_id_version_pk" PRIMARY KEY("template_id","version")
);
--> statement-breakpoint
ALTER TABLE "template_versions" ADD CONSTRAINT "template_versions_template_id_templates_id_fk" FOREIGN KEY ("template_id") REFERENCES "public"."templates"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
-- Existing templates: their current version is the first one kept (earlier ones were never recorded).
INSERT INTO "template_versions" ("template_id", "version", "name", "body", "system", "provider", "model", "max_tokens", "temperature", "output_schema", "cache_ttl_seconds", "key_fields", "created_at")
SELECT "id", "version", "name", "body", "system", "provider", "model", "max_tokens", "temperature", "output_schema", "cache_ttl_seconds", "key_fields", "updated_at" FROM "templates";
