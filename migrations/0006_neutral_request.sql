ALTER TABLE "generations" ALTER COLUMN "template_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "generations" ALTER COLUMN "template_version" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "generations" ADD COLUMN "messages" jsonb;--> statement-breakpoint
ALTER TABLE "generations" ADD COLUMN "top_p" double precision;--> statement-breakpoint
ALTER TABLE "generations" ADD COLUMN "stop" jsonb;