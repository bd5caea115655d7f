/**
 * `npm run bench:tracing`: bench:cache's ratio and bench:pipeline's (b), each run with tracing off
 * and then on (OTLP/HTTP protobuf to an in-process receiver that takes and counts them), every trace
 * and one in ten (OTEL_TRACES_SAMPLER=parentbased_traceidratio, 0.1), side by side. Targets: on within 10 % of off.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startOtlpReceiver } from '../test/support/otlp-receiver.js';
import { fmt } from './support.js';

// A collector runs elsewhere: this one only counts what it gets, so that decoding does not compete for the cores.
const receiver = await startOtlpReceiver({ decode: false });
const run = async (script: string, env: Record<string, string>): Promise<string> => {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(script, import.meta.url))], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  await once(child, 'exit');
  return out;
};
const on = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' };
const figure = (out: string, re: RegExp) => Number(re.exec(out)?.[1]?.replaceAll(',', ''));
const cases: { label: string; script: string; env: Record<string, string>; re: RegExp }[] = [
  { label: 'bench:cache (b) cache hits, req/s', script: './cache.ts', env: { DURATION_S: process.env.DURATION_S ?? '5' }, re: /^\(b\)[^\n]*?([\d,]+) req\/s/m },
  { label: 'bench:pipeline (b) jobs/s', script: './pipeline.ts', env: { ONLY_B: '1' }, re: /^\(b\) only\s+([\d,]+) jobs\/s/m },
];
console.log(`bench:tracing  (node ${process.version})`);
for (const c of cases) {
  const offs: number[] = [];
  const ons: number[] = [];
  const sampled: number[] = [];
  for (let round = 0; round < 2; round++) {
    offs.push(figure(await run(c.script, c.env), c.re));
    ons.push(figure(await run(c.script, { ...c.env, ...on }), c.re));
    sampled.push(figure(await run(c.script, { ...c.env, ...on, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }), c.re));
  }
  const [off, all, tenth] = [Math.max(...offs), Math.max(...ons), Math.max(...sampled)];
  console.log(`${c.label}\n    off ${fmt(off).padStart(7)} [${offs.map((x) => fmt(x)).join(', ')}]   on ${fmt(all).padStart(7)} [${ons.map((x) => fmt(x)).join(', ')}] = ${fmt(all / off, 2)}   on, 10 % sampled ${fmt(tenth).padStart(7)} [${sampled.map((x) => fmt(x)).join(', ')}] = ${fmt(tenth / off, 2)}   target on >= 0.90 of off`);
}
console.log(`OTLP received: ${fmt(receiver.bytes() / 1e6, 1)} MB of protobuf`);
await receiver.close();
