import { Type, type Static } from 'typebox';
import { MODEL_PATTERN_LIST } from '../spend/model-pattern.js';

const Int = (def: number, min: number, max: number, description: string) =>
  Type.Integer({ default: def, minimum: min, maximum: max, description });
const Flag = (description: string) => Type.Boolean({ default: false, description });
const Models = (def: string, description: string) =>
  Type.String({ default: def, pattern: MODEL_PATTERN_LIST, description });
const Opt = (description: string, extra: Record<string, unknown> = {}) =>
  Type.Optional(Type.String({ minLength: 1, description, ...extra }));

/**
 * The free tier's default models: each entry of the pricing table (src/providers/pricing.ts)
 * priced at most $1 per million input tokens, with its dated snapshots (prices match by
 * prefix, so `name*` allows exactly what is priced as `name`); the fake provider too.
 */
const FREE_MODELS = [
  'anthropic/claude-haiku-4-5*', 'anthropic/claude-3-5-haiku-*',
  'openai/gpt-4o-mini*', 'openai/gpt-4.1-mini*', 'openai/gpt-4.1-nano*', 'openai/gpt-5-mini*', 'openai/gpt-5-nano*',
  'openai/text-embedding-3-small*', 'openai/text-embedding-3-large*', 'openai/text-embedding-ada-002*',
  'fake/*',
].join(',');

/**
 * Every environment variable PromptLab reads, with its default.
 * `.env.example` and the configuration table (docs/configuration.md) list the same set
 * (a test keeps them in step).
 */
export const ConfigSchema = Type.Object({
  PORT: Int(3000, 0, 65535, 'HTTP port of the API'),
  HOST: Type.String({ default: '127.0.0.1', description: 'Interface the API binds (0.0.0.0 in containers)' }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info', description: 'pino log level' }),
  LOG_FORMAT: Type.Enum(['auto', 'json', 'pretty'], { default: 'auto', description: 'Log lines: `json` (one JSON object per line), `pretty` (readable, pino-pretty), `auto` (pretty when stdout is a terminal, else JSON)' }),
  PROMPTLAB_DATA_DIR: Type.String({ default: '.data', description: 'Embedded PGlite data, spawned redis-server data and the generated admin key' }),
  DATABASE_URL: Opt('Postgres URL; unset → embedded PGlite under PROMPTLAB_DATA_DIR (all-in-one mode only)', { pattern: '^postgres(ql)?://' }),
  DATABASE_DIRECT_URL: Opt('Postgres URL for migrations only, when DATABASE_URL is a PgBouncer in transaction mode: the migration lock needs a session (default DATABASE_URL)', { pattern: '^postgres(ql)?://' }),
  REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6379', pattern: '^rediss?://', description: 'Redis URL' }),
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({
    pattern: '^\\s*[^,:\\s]+:\\d{1,5}\\s*(,\\s*[^,:\\s]+:\\d{1,5}\\s*)*$',
    description: 'A Redis Cluster: some of its nodes, `host:port,host:port` (the rest are discovered); every Redis connection becomes a cluster client. REDIS_URL then gives only the credentials and TLS (docs/operations.md, "Redis Cluster")',
  })),
  REDIS_PREFIX: Opt('Prefix of every Redis key (queues, cache, limiter); one PromptLab database per prefix, checked at boot. Default `promptlab`; `npm start` on its embedded database: a prefix of its own, kept in PROMPTLAB_DATA_DIR/redis-prefix', { pattern: '^[A-Za-z0-9_.-]+$' }),
  PROMPTLAB_ADMIN_KEY: Opt('Admin API key, at least 32 characters and about 128 bits of entropy (openssl rand -base64 32); unset → generated once and kept in PROMPTLAB_DATA_DIR/admin-key', { minLength: 32 }),
  ANTHROPIC_API_KEY: Opt('Enables the anthropic provider'),
  ANTHROPIC_BASE_URL: Opt('Anthropic API base URL (no /v1)', { pattern: '^https?://' }),
  OPENAI_API_KEY: Opt('Enables the openai provider'),
  OPENAI_BASE_URL: Opt('OpenAI-compatible base URL (with /v1); also enables openai without a key (Ollama, vLLM)', { pattern: '^https?://' }),
  PROVIDERS_JSON: Opt('More providers, OpenAI-compatible servers by name: [{"name","baseUrl","apiKeyEnv"?,"models":[{"name","input":USD/MTok,"output":USD/MTok}],"defaultModel"?}], checked at boot'),
  DEFAULT_PROVIDER: Opt('Provider for templates that name none, any in the registry; default: anthropic, else openai, else fake, by which is configured', {
    pattern: '^[a-z][a-z0-9_-]{0,39}$',
  }),
  FAKE_LATENCY_MS: Int(50, 0, 600_000, 'Latency of the fake provider'),
  PROVIDER_TIMEOUT_MS: Int(30_000, 100, 600_000, 'Timeout of one provider call'),
  PRICING_JSON: Opt('Extra or replacement prices: {"provider":{"model":{"input":USD/MTok,"output":USD/MTok}}}, checked at boot'),
  ALLOW_UNPRICED_MODELS: Flag('Admit models with no price (cost recorded as null, counted as unpriced in /v1/usage) instead of 400 unknown_model; never where a budget applies'),
  WORKER_CONCURRENCY: Int(10, 1, 1000, 'Provider calls one worker process makes at once'),
  WORKER_PREFETCH: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, description: 'Jobs a worker holds beyond WORKER_CONCURRENCY, writing their results or waiting for a provider slot; default: a fifth of WORKER_CONCURRENCY' })),
  LOCAL_START: Type.Boolean({ default: true, description: 'A process that runs both the API and a worker (npm start) starts a generation it just admitted itself when one of its provider slots is free, claimed in the admission statement, without the BullMQ hand-over; false: every job goes through BullMQ' }),
  JOB_ATTEMPTS: Int(3, 1, 20, 'Attempts per generation before it is dead-lettered'),
  JOB_BACKOFF_MS: Int(1000, 1, 3_600_000, 'Base of the exponential retry backoff (with jitter)'),
  WORKER_LOCK_DURATION_MS: Int(30_000, 500, 600_000, 'BullMQ job lock; a worker that dies loses its jobs to another after this'),
  WORKER_STALLED_INTERVAL_MS: Int(30_000, 500, 600_000, 'How often workers look for stalled jobs'),
  WORKER_METRICS_PORT: Int(9464, 0, 65535, 'Port of the GET /metrics of a worker process (npm run worker); 0 = off'),
  OUTPUT_VALIDATION_TIMEOUT_MS: Int(2000, 10, 600_000, 'Longest one check of a model answer against a template outputSchema may run (in a worker thread) before the thread is ended and the job fails as output_validation_timeout'),
  SHUTDOWN_GRACE_MS: Int(30_000, 100, 600_000, 'How long SIGTERM waits for in-flight requests and jobs'),
  COMPAT_WAIT_SECONDS: Int(60, 1, 60, 'How long POST /v1/chat/completions and POST /v1/messages hold a call for its job before a 504 generation_timeout (the job goes on); at most 60, under the Idempotency-Key lease'),
  COMPAT_BODY_LIMIT_MB: Int(20, 1, 100, 'Largest body of POST /v1/chat/completions, /v1/messages and /v1/responses, in MB (base64 images and PDFs travel inline); larger is a 413 in the format\'s error body'),
  CACHE_TTL_SECONDS: Int(3600, 0, 31_536_000, 'Result cache TTL when the template sets none (0 = do not cache)'),
  CACHE_LOCAL_TTL_MS: Int(5000, 0, 3_600_000, 'Longest time a result or template is served from process memory (0 = no local tier)'),
  CACHE_LOCAL_MAX_MB: Int(64, 1, 65_536, 'Memory bound of the in-process result tier'),
  CACHE_COMPRESS_MIN_BYTES: Int(1024, 0, 1_073_741_824, 'Results at least this large are stored deflated in Redis'),
  CACHE_TIMEOUT_MS: Int(100, 1, 10_000, 'Longest wait for Redis on a result-cache lookup before falling back to Postgres (a hung Redis costs at most this)'),
  USAGE_FLUSH_MS: Int(2000, 50, 600_000, 'How often spend counters are written to Postgres'),
  SWEEP_INTERVAL_MS: Int(30_000, 200, 3_600_000, 'How often workers reconcile in-flight rows with their BullMQ jobs (enqueue the missing, settle or rerun the ended) and purge expired idempotency keys'),
  RATE_LIMIT_FREE: Int(10, 1, 1_000_000, 'Requests per window for free keys'),
  RATE_LIMIT_PRO: Int(100, 1, 1_000_000, 'Requests per window for pro keys'),
  RATE_LIMIT_ENTERPRISE: Int(1000, 1, 1_000_000, 'Requests per window for enterprise keys'),
  RATE_LIMIT_ANONYMOUS: Int(60, 1, 1_000_000, 'Requests per window per client IP on routes without a key'),
  RATE_LIMIT_TPM_FREE: Int(20_000, 1, 1_000_000_000, 'Tokens per window for free keys: the worst cases of admitted generations (input bytes + 16 + maxTokens), reconciled to the tokens used'),
  RATE_LIMIT_TPM_PRO: Int(400_000, 1, 1_000_000_000, 'Tokens per window for pro keys (as RATE_LIMIT_TPM_FREE)'),
  RATE_LIMIT_TPM_ENTERPRISE: Int(4_000_000, 1, 1_000_000_000, 'Tokens per window for enterprise keys (as RATE_LIMIT_TPM_FREE; the admin key is not token-limited)'),
  RATE_LIMIT_WINDOW_MS: Int(60_000, 100, 86_400_000, 'Sliding window length'),
  RATE_LIMIT_AUTH_FAILURES: Int(20, 1, 1_000_000, 'Failed API-key lookups per window per client IP; then its keys not known valid get 429 without a Postgres query'),
  RATE_LIMIT_TIMEOUT_MS: Int(50, 1, 10_000, 'Longest silence of Redis after a limiter check was sent before the check fails (503, or admitted with RATE_LIMIT_FAIL_OPEN)'),
  RATE_LIMIT_FAIL_OPEN: Flag('Admit requests when Redis is unreachable (default: reject with 503)'),
  RATE_LIMIT_HEADERS: Type.Enum(['standard', 'draft'], {
    default: 'standard', description: 'draft also sends the IETF RateLimit-Policy / RateLimit fields',
  }),
  PRIORITY_FREE: Type.Enum(['high', 'normal', 'low'], { default: 'low', description: 'Queue class of free keys\' generations when neither the request nor the key names one' }),
  PRIORITY_PRO: Type.Enum(['high', 'normal', 'low'], { default: 'normal', description: 'Queue class of pro keys\' generations (as PRIORITY_FREE)' }),
  PRIORITY_ENTERPRISE: Type.Enum(['high', 'normal', 'low'], { default: 'normal', description: 'Queue class of enterprise keys\' generations and the admin key\'s (as PRIORITY_FREE)' }),
  MODELS_FREE: Models(FREE_MODELS, 'Models free keys may use: comma-separated provider/model globs (* = any); the default is every model of the pricing table at most $1 per million input tokens'),
  MODELS_PRO: Models('*', 'Models pro keys may use (same syntax as MODELS_FREE)'),
  MODELS_ENTERPRISE: Models('*', 'Models enterprise keys may use (same syntax as MODELS_FREE)'),
  ROUTES_FILE: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'A routing file (YAML or JSON): deployments and model groups with fallbacks (docs/routing.md); loaded at boot, kept in Postgres with versions; `PUT /v1/routes` edits it' })),
  ROUTE_COOLDOWN_MS: Int(30_000, 100, 3_600_000, 'How long a deployment that failed (429 without Retry-After, 5xx, a timeout) is left out of its groups, unless its group says otherwise'),
  PROVIDERS_ALLOW_PRIVATE: Flag('Allow routing-file deployments whose base URL is on a loopback, private or link-local address (a local server, tests)'),
  WEBHOOK_ALLOW_PRIVATE: Flag('Allow webhook URLs that resolve to private, loopback or link-local addresses (tests, internal receivers)'),
  WEBHOOK_TIMEOUT_MS: Int(5000, 100, 60_000, 'Longest one webhook delivery attempt may take (connect, send, answer) before it counts as failed'),
  WEBHOOK_CONCURRENCY: Int(20, 1, 1000, 'Webhook deliveries one worker process makes at once'),
  WEBHOOK_MAX_ATTEMPTS: Int(8, 1, 50, 'Delivery attempts of one webhook message (the first, then WEBHOOK_RETRY_SCHEDULE_MS); then it is given up'),
  WEBHOOK_RETRY_SCHEDULE_MS: Type.String({
    default: '5000,300000,1800000,7200000,18000000,36000000,36000000', pattern: '^\\d{1,9}(,\\d{1,9})*$',
    description: 'Delays before the 2nd, 3rd, … webhook attempt, comma-separated ms (Standard Webhooks: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h); the last repeats',
  }),
  TRUST_PROXY: Opt('Proxy addresses/CIDRs whose X-Forwarded-For is believed (comma-separated)'),
});

export type Config = Static<typeof ConfigSchema>;
