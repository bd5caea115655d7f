/** The API as the console calls it: bearer key from session storage, errors as ApiError with the server's message. */

const KEY = 'promptlab.key';

export const session = {
  key: (): string | null => sessionStorage.getItem(KEY),
  set: (key: string) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }
}

export interface Answer<T> {
  status: number;
  body: T;
  headers: Headers;
}

function headers(extra: Record<string, string> = {}, key = session.key()): Record<string, string> {
  return { ...(key ? { authorization: `Bearer ${key}` } : {}), ...extra };
}

async function failure(res: Response): Promise<ApiError> {
  const body = await res.json().catch(() => undefined) as { error?: { code: string; message: string; details?: Record<string, unknown> } } | undefined;
  if (body?.error) return new ApiError(res.status, body.error.code, body.error.message, body.error.details);
  return new ApiError(res.status, 'http_error', `The server answered ${res.status} ${res.statusText}.`);
}

/** One call; non-2xx throws ApiError. `key` overrides the session's (sign-in). */
export async function call<T>(method: string, path: string, body?: unknown, opts: { key?: string; headers?: Record<string, string> } = {}): Promise<Answer<T>> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: headers({ ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers }, opts.key ?? session.key()),
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch {
    throw new ApiError(0, 'network_error', 'Cannot reach the PromptLab API. Is `npm start` still running?');
  }
  if (!res.ok) throw await failure(res);
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T, headers: res.headers };
}

export const get = async <T>(path: string) => (await call<T>('GET', path)).body;

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * Reads Server-Sent Events with fetch, so the bearer header goes along
 * (EventSource cannot send one). Resolves when the stream ends or `signal` aborts.
 */
export async function streamEvents(path: string, init: RequestInit, onEvent: (e: SseEvent) => void, signal?: AbortSignal): Promise<Headers> {
  const res = await fetch(path, { ...init, headers: headers({ accept: 'text/event-stream', ...(init.headers as Record<string, string> | undefined) }), ...(signal ? { signal } : {}) });
  if (!res.ok) throw await failure(res);
  if (!res.body) return res.headers;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut: number;
      while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, '');
        const e: SseEvent = { event: 'message', data: '' };
        const data: string[] = [];
        for (const line of block.split(/\r?\n/)) {
          if (!line || line.startsWith(':')) continue;
          const i = line.indexOf(':');
          const field = i < 0 ? line : line.slice(0, i);
          const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
          if (field === 'event') e.event = v;
          else if (field === 'data') data.push(v);
          else if (field === 'id') e.id = v;
        }
        if (data.length) onEvent({ ...e, data: data.join('\n') });
      }
    }
  } catch (err) {
    if (!signal?.aborted) throw err;
  }
  return res.headers;
}

export interface BudgetStatus { usd: number; period: string; spentUsd: number; reservedUsd: number; remainingUsd: number; resetAt: string }

export interface Me {
  keyId: string;
  name: string | null;
  role: 'global_admin' | 'admin' | 'member';
  project: { id: string; name: string } | null;
  tier: string | null;
  limits: { requestsPerMinute: number; tokensPerMinute: number | null };
  budgets: BudgetStatus[];
  expiresAt: string | null;
}

export interface Template {
  id: string;
  name: string;
  body: string;
  system: string | null;
  provider: string | null;
  model: string | null;
  maxTokens: number | null;
  temperature: number | null;
  outputSchema: Record<string, unknown> | null;
  cacheTtlSeconds: number | null;
  keyFields: string[] | null;
  variables: string[];
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface TemplateVersion extends Omit<Template, 'id' | 'version' | 'updatedAt'> {
  templateId: string;
  version: number;
}

export interface Usage { inputTokens: number; outputTokens: number; totalTokens: number }

export interface Job {
  id: string;
  status: string;
  templateId: string | null;
  templateVersion: number | null;
  provider: string;
  model: string;
  apiKeyId: string;
  system?: string | null;
  messages?: { role: string; content: string }[];
  attempts: number;
  result?: { text: string; json?: unknown };
  usage?: Usage;
  costUsd?: number | null;
  error?: { code: string; message: string };
  cached: boolean;
  createdAt: string;
  startedAt?: string;
  completedAt?: string;
  /** The OpenTelemetry trace of the request that admitted it (tracing on). */
  traceId?: string;
}

export const usd = (n: number | null | undefined): string =>
  n == null ? '—' : n === 0 ? '$0' : n < 0.01 ? `$${n.toPrecision(2)}` : `$${n.toFixed(4)}`;

export const isAdmin = (me: Me | null): boolean => me?.role === 'global_admin' || me?.role === 'admin';
