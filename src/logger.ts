import pino, { type Logger } from 'pino';
import type { Config } from './config/index.js';
import { activeTraceId } from './telemetry/tracing.js';

/** Paths pino blanks in every line: no key of ours or of a provider ever reaches a log. */
export const REDACT = [
  'req.headers.authorization', 'req.headers["x-api-key"]', 'headers.authorization',
  '*.apiKey', '*.key', '*.adminKey', '*.ANTHROPIC_API_KEY', '*.OPENAI_API_KEY', '*.PROMPTLAB_ADMIN_KEY',
  '*.compatibleProviders[*].apiKey',
];

/** pino JSON lines, or readable ones (pino-pretty) with LOG_FORMAT=pretty, or by default when stdout is a terminal. */
export function createLogger(config: Pick<Config, 'LOG_LEVEL' | 'LOG_FORMAT'>, name: string): Logger {
  const pretty = config.LOG_FORMAT === 'pretty' || (config.LOG_FORMAT === 'auto' && process.stdout.isTTY);
  return pino({
    name,
    level: config.LOG_LEVEL,
    redact: { paths: REDACT, censor: '[redacted]' },
    // With tracing on, a line written inside a span (a job's attempt, a request's work) carries its trace id.
    mixin: () => {
      const traceId = activeTraceId();
      return traceId ? { traceId } : {};
    },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
}
