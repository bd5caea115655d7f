import pino, { type Logger } from 'pino';
import type { Config } from './config/index.js';

/** Paths pino blanks in every line: no key of ours or of a provider ever reaches a log. */
export const REDACT = [
  'req.headers.authorization', 'req.headers["x-api-key"]', 'headers.authorization',
  '*.apiKey', '*.key', '*.adminKey', '*.ANTHROPIC_API_KEY', '*.OPENAI_API_KEY', '*.PROMPTLAB_ADMIN_KEY',
  '*.compatibleProviders[*].apiKey',
];

/** pino JSON lines; pretty when stdout is a terminal. */
export function createLogger(config: Pick<Config, 'LOG_LEVEL'>, name: string): Logger {
  return pino({
    name,
    level: config.LOG_LEVEL,
    redact: { paths: REDACT, censor: '[redacted]' },
    ...(process.stdout.isTTY ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
  });
}
