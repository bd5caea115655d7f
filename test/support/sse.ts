import { createParser } from 'eventsource-parser';

export interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: any;
}

export interface SseRead {
  status: number;
  headers: Headers;
  events: SseEvent[];
  comments: string[];
}

/**
 * Reads a Server-Sent Events response until the server ends it (or `ms`
 * passes, which fails), parsing it as an EventSource would; `onEvent` sees
 * each event as it arrives.
 */
export async function readSse(url: string, headers: Record<string, string> = {}, opts: { ms?: number; onEvent?: (e: SseEvent) => void } = {}): Promise<SseRead> {
  const ms = opts.ms ?? 20_000;
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: AbortSignal.timeout(ms) });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const parser = createParser({
    onEvent: (e) => {
      const event = { id: e.id, event: e.event, data: JSON.parse(e.data) };
      events.push(event);
      opts.onEvent?.(event);
    },
    onComment: (c) => comments.push(c),
  });
  if (res.body) {
    const decoder = new TextDecoder();
    for await (const chunk of res.body) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
  }
  return { status: res.status, headers: res.headers, events, comments };
}
