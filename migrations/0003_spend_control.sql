CREATE TABLE "budget_usage" (
	"scope" text NOT NULL,
	"scope_id" text NOT NULL,
	"period" text NOT NULL,
	"period_start" date NOT NULL,
	"spent_usd" numeric(20, 9) DEFAULT 0 NOT NULL,
	"reserved_usd" numeric(20, 9) DEFAULT 0 NOT NULL,
	CONSTRAINT "budget_usage_scope_scope_id_period_period_start_pk" PRIMARY KEY("scope","scope_id","period","period_start")
);
--> statement-breakpoint
CREATE TABLE "budgets" (
	"scope" text NOT NULL,
	"scope_id" text NOT NULL,
	"period" text NOT NULL,
	"usd" numeric(20, 9) NOT NULL,
	CONSTRAINT "budgets_scope_scope_id_period_pk" PRIMARY KEY("scope","scope_id","period")
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "allowed_models" jsonb;--> statement-breakpoint
ALTER TABLE "generations" ADD COLUMN "unpriced" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "generations" ADD COLUMN "reserved_usd" numeric(20, 9) DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "generations" ADD COLUMN "reserved_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "usage_daily" ADD COLUMN "unpriced" bigint DEFAULT 0 NOT NULL;