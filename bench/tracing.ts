/**
 * `npm run bench:tracing`: bench:cache's ratio and bench:pipeline's (b), each run with tracing off
 * and then on (OTLP/HTTP protobuf to an in-process receiver that decodes every span, as a collector
 * would take them), side by side. Targets: on within 10 % of off.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startOtlpReceiver } from '../test/support/otlp-receiver.js';
import { fmt } from './support.js';

const receiver = await startOtlpReceiver();
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
  for (let round = 0; round < 2; round++) {
    offs.push(figure(await run(c.script, c.env), c.re));
    ons.push(figure(await run(c.script, { ...c.env, ...on }), c.re));
  }
  const [off, with_] = [Math.max(...offs), Math.max(...ons)];
  console.log(`${c.label.padEnd(38)} off ${fmt(off).padStart(7)} [${offs.map((x) => fmt(x)).join(', ')}]   on ${fmt(with_).padStart(7)} [${ons.map((x) => fmt(x)).join(', ')}]   on/off ${fmt(with_ / off, 2)}   target >= 0.90`);
}
console.log(`spans received: ${fmt(receiver.spans.length)}`);
await receiver.close();
