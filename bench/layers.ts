/**
 * Where a request's CPU goes in the process that served it, by layer: a CPU profile (node:inspector)
 * taken over a known number of requests, each sample's self time given to the layer of the first
 * frame of its stack that names one (the innermost), in µs per request.
 */
import { Session } from 'node:inspector/promises';

/** Layers by the file a frame runs in; the first match from the innermost frame out wins. */
const LAYERS: [string, RegExp][] = [
  ['logging', /node_modules\/(pino|sonic-boom|thread-stream)|src\/logging\//],
  ['metrics', /node_modules\/prom-client|src\/metrics\//],
  ['auth (key, re-read)', /src\/auth\//],
  ['limiter', /src\/ratelimit\//],
  ['cache', /src\/cache\//],
  ['input hash', /src\/llm\/hash/],
  ['build (template, render)', /src\/(generation|templates|llm|spend|providers)\//],
  ['body parse and guard', /src\/http\/|secure-json-parse/],
  ['serialization', /fast-json-stringify|src\/routes\/schemas/],
  ['redis client', /node_modules\/(ioredis|redis-parser|cluster-key-slot|denque)/],
  ['routing (fastify)', /node_modules\/(fastify|find-my-way|avvio|light-my-request|@fastify)/],
  ['http and sockets (node)', /^node:(_http|net|internal\/(stream|http|streams))|node:events|writeUtf8String|writev|writeBuffer/],
];

interface ProfileNode { id: number; callFrame: { functionName: string; url: string }; children?: number[] }

export class LayerProfile {
  readonly #session = new Session();

  async start(): Promise<void> {
    this.#session.connect();
    await this.#session.post('Profiler.enable');
    await this.#session.post('Profiler.setSamplingInterval', { interval: 100 });
    await this.#session.post('Profiler.start');
  }

  /** Stops, and gives µs per request by layer (`other`: the rest; idle and the profiler left out). */
  async stop(requests: number): Promise<Record<string, number>> {
    const { profile } = (await this.#session.post('Profiler.stop')) as unknown as { profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] } };
    this.#session.disconnect();
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const layerOf = new Map<number, string>();
    const classify = (id: number): string => {
      const known = layerOf.get(id);
      if (known) return known;
      const { url, functionName } = byId.get(id)!.callFrame;
      const here = LAYERS.find(([, re]) => re.test(url) || re.test(functionName))?.[0];
      const p = parent.get(id);
      const layer = here ?? (p === undefined ? 'other' : classify(p));
      layerOf.set(id, layer);
      return layer;
    };
    const out: Record<string, number> = {};
    profile.samples.forEach((id, i) => {
      const { functionName: fn, url } = byId.get(id)!.callFrame;
      if (fn === '(idle)' || fn === '(program)' || url === 'node:inspector') return; // the profiler's own stop is no request's
      const layer = fn === '(garbage collector)' ? 'garbage collection' : classify(id);
      out[layer] = (out[layer] ?? 0) + (profile.timeDeltas[i] ?? 0);
    });
    for (const k of Object.keys(out)) out[k] = out[k]! / requests;
    return out;
  }
}
