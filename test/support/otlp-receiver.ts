import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One span as the receiver decoded it, from OTLP/HTTP protobuf or JSON alike. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  /** The spans it links to (another trace's), by trace and span id. */
  links: { traceId: string; spanId: string }[];
  /** How it arrived: `application/x-protobuf` or `application/json`. */
  contentType: string;
}

/** A minimal protobuf wire reader: the fields of one message, by number, in order. */
function fields(buf: Buffer): [number, number, Buffer | bigint][] {
  const out: [number, number, Buffer | bigint][] = [];
  let i = 0;
  const varint = (): bigint => {
    let shift = 0n;
    let v = 0n;
    for (;;) {
      const b = buf[i++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const [no, wire] = [key >> 3, key & 7];
    if (wire === 0) out.push([no, wire, varint()]);
    else if (wire === 1) { out.push([no, wire, buf.subarray(i, i + 8)]); i += 8; }
    else if (wire === 2) { const len = Number(varint()); out.push([no, wire, buf.subarray(i, i + len)]); i += len; }
    else if (wire === 5) { out.push([no, wire, buf.subarray(i, i + 4)]); i += 4; }
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}
const sub = (f: [number, number, Buffer | bigint][], no: number) => f.filter(([n]) => n === no).map(([, , v]) => v as Buffer);

/** AnyValue: string 1, bool 2, int 3, double 4, array 5. */
function anyValue(buf: Buffer): unknown {
  const [[no, , v] = [0, 0, Buffer.alloc(0)]] = fields(buf);
  if (no === 1) return (v as Buffer).toString('utf8');
  if (no === 2) return (v as bigint) !== 0n;
  if (no === 3) return Number(v as bigint);
  if (no === 4) return (v as Buffer).readDoubleLE(0);
  if (no === 5) return sub(fields(v as Buffer), 1).map(anyValue);
  return undefined;
}
const keyValues = (list: Buffer[]) => Object.fromEntries(list.map((kv) => { const f = fields(kv); return [sub(f, 1)[0]!.toString('utf8'), anyValue(sub(f, 2)[0] ?? Buffer.alloc(0))]; }));

function fromProtobuf(body: Buffer, contentType: string): ReceivedSpan[] {
  return sub(fields(body), 1).flatMap((rs) => {
    const f = fields(rs);
    const resource = keyValues(sub(fields(sub(f, 1)[0] ?? Buffer.alloc(0)), 1));
    return sub(f, 2).flatMap((ss) => sub(fields(ss), 2).map((s) => {
      const sf = fields(s);
      const hex = (no: number) => (sub(sf, no)[0] ?? Buffer.alloc(0)).toString('hex');
      return {
        service: String(resource['service.name']), traceId: hex(1), spanId: hex(2), parentSpanId: hex(4), name: sub(sf, 5)[0]!.toString('utf8'),
        kind: Number(sf.find(([n]) => n === 6)?.[2] ?? 0), attributes: keyValues(sub(sf, 9)), contentType,
        links: sub(sf, 13).map((l) => { const lf = fields(l); return { traceId: sub(lf, 1)[0]!.toString('hex'), spanId: sub(lf, 2)[0]!.toString('hex') }; }),
      };
    }));
  });
}

interface JsonValue { stringValue?: string; boolValue?: boolean; intValue?: string | number; doubleValue?: number; arrayValue?: { values: JsonValue[] } }
const jsonValue = (v: JsonValue): unknown =>
  v.stringValue ?? v.boolValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ?? v.arrayValue?.values.map(jsonValue);
const jsonAttrs = (list: { key: string; value: JsonValue }[] = []) => Object.fromEntries(list.map((a) => [a.key, jsonValue(a.value)]));

function fromJson(body: Buffer, contentType: string): ReceivedSpan[] {
  const req = JSON.parse(body.toString('utf8')) as { resourceSpans: { resource?: { attributes: { key: string; value: JsonValue }[] }; scopeSpans: { spans: { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes?: { key: string; value: JsonValue }[]; links?: { traceId: string; spanId: string }[] }[] }[] }[] };
  return req.resourceSpans.flatMap((rs) => {
    const service = String(jsonAttrs(rs.resource?.attributes)['service.name']);
    return rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({
      service, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name, kind: s.kind, attributes: jsonAttrs(s.attributes), contentType,
      links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
    })));
  });
}

/** An OTLP/HTTP trace receiver on a free port: every span it got, decoded (or, `decode: false`, only the bytes counted). */
export async function startOtlpReceiver({ decode = true } = {}): Promise<{ url: string; spans: ReceivedSpan[]; bytes(): number; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  let bytes = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = String(req.headers['content-type'] ?? '');
      const body = Buffer.concat(chunks);
      bytes += body.length;
      if (req.url === '/v1/traces' && decode) spans.push(...(type.includes('json') ? fromJson(body, type) : fromProtobuf(body, type)));
      res.writeHead(200, { 'content-type': type.includes('json') ? 'application/json' : 'application/x-protobuf' });
      res.end(type.includes('json') ? '{}' : '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, bytes: () => bytes, close: () => new Promise((r) => server.close(() => r())) };
}
