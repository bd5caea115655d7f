ALTER TABLE "api_keys" ADD COLUMN "priority" text;--> statement-breakpoint
ALTER TABLE "generations" ADD COLUMN "priority" text DEFAULT 'normal' NOT NULL;--> statement-breakpoint
ALTER TABLE "generations" ADD COLUMN "subscribers" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "generations" ADD COLUMN "cancel_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "generations" ADD COLUMN "cancel_requested_at" timestamp with time zone;