import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip, type ChartConfiguration } from 'chart.js';
import { useEffect, useRef, useState } from 'react';
import { get, usd, type Me } from '../api';
import { Empty, ErrorNote, useLoad } from '../ui';

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Legend, Tooltip);

interface Sums { requests: number; cacheHits: number; inputTokens: number; outputTokens: number; costUsd: number; savedUsd: number; unpriced: number }
interface Report { from: string; to: string; totals: Sums; byDay: (Sums & { day: string })[]; byApiKey: (Sums & { apiKeyId: string })[]; byTemplate: (Sums & { templateId: string | null })[] }

const DAYS = 14;
const day = (d: Date) => d.toISOString().slice(0, 10);
const rate = (s: Sums) => (s.requests ? s.cacheHits / s.requests : 0);
const pct = (x: number) => `${Math.round(x * 100)}%`;

function useThemeName() {
  const [theme, setTheme] = useState(document.documentElement.dataset.theme);
  useEffect(() => {
    const o = new MutationObserver(() => setTheme(document.documentElement.dataset.theme));
    o.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    return () => o.disconnect();
  }, []);
  return theme;
}

function ChartBox({ config, label }: { config: ChartConfiguration; label: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart | null>(null);
  useEffect(() => {
    if (!canvas.current) return;
    chart.current?.destroy();
    chart.current = new Chart(canvas.current, config);
    return () => { chart.current?.destroy(); chart.current = null; };
  }, [config]);
  return <div className="chart"><canvas ref={canvas} role="img" aria-label={label} /></div>;
}

function colors() {
  const css = getComputedStyle(document.documentElement);
  const v = (n: string) => css.getPropertyValue(n).trim();
  return { cost: v('--chart-cost'), saved: v('--chart-saved'), rate: v('--chart-rate'), text: v('--fg'), grid: v('--border') };
}

function bars(labels: string[], rows: Sums[], c: ReturnType<typeof colors>, withRate: boolean): ChartConfiguration {
  const scale = { ticks: { color: c.text }, grid: { color: c.grid } };
  return {
    type: 'bar',
    data: {
      labels,
      datasets: [
        { type: 'bar', label: 'Cost (USD)', data: rows.map((r) => r.costUsd), backgroundColor: c.cost, yAxisID: 'y' },
        { type: 'bar', label: 'Saved by the cache (USD)', data: rows.map((r) => r.savedUsd), backgroundColor: c.saved, yAxisID: 'y' },
        ...(withRate ? [{ type: 'line' as const, label: 'Cache-hit rate', data: rows.map((r) => rate(r) * 100), borderColor: c.rate, backgroundColor: c.rate, yAxisID: 'y1' }] : []),
      ],
    },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { labels: { color: c.text } } },
      scales: { x: scale, y: { ...scale, beginAtZero: true, ticks: { color: c.text, callback: (v: string | number) => usd(Number(v)) } }, ...(withRate ? { y1: { ...scale, position: 'right' as const, min: 0, max: 100, ticks: { color: c.text, callback: (v: string | number) => `${v}%` } } } : {}) },
    },
  } as ChartConfiguration;
}

function Table({ caption, rows }: { caption: string; rows: { label: string; s: Sums }[] }) {
  return (
    <details>
      <summary>{caption} as a table</summary>
      <table>
        <thead><tr><th scope="col">{caption.split(' ').at(-1)}</th><th scope="col">Requests</th><th scope="col">Cache hits</th><th scope="col">Cost</th><th scope="col">Saved</th></tr></thead>
        <tbody>{rows.map((r) => <tr key={r.label}><td className="mono">{r.label}</td><td>{r.s.requests}</td><td>{r.s.cacheHits}</td><td>{usd(r.s.costUsd)}</td><td>{usd(r.s.savedUsd)}</td></tr>)}</tbody>
      </table>
    </details>
  );
}

/** Cost, cost saved and cache-hit rate per day, per key and per template, from GET /v1/usage; refreshed every 5 s. */
export default function SpendPage({ me }: { me: Me }) {
  const theme = useThemeName();
  const to = new Date();
  const from = new Date(to.getTime() - (DAYS - 1) * 86400e3);
  const report = useLoad(() => get<Report>(`/v1/usage?from=${day(from)}&to=${day(to)}`), [], 5000);
  const [configs, setConfigs] = useState<{ days: ChartConfiguration; keys: ChartConfiguration; templates: ChartConfiguration }>();
  const r = report.data;
  const stamp = r ? JSON.stringify([r.byDay, r.byApiKey, r.byTemplate]) : '';

  useEffect(() => {
    if (!r) return;
    const c = colors();
    const labels = Array.from({ length: DAYS }, (_, i) => day(new Date(from.getTime() + i * 86400e3)));
    const zero: Sums = { requests: 0, cacheHits: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, savedUsd: 0, unpriced: 0 };
    const perDay = labels.map((d) => r.byDay.find((x) => x.day === d) ?? zero);
    setConfigs({
      days: bars(labels.map((d) => d.slice(5)), perDay, c, true),
      keys: bars(r.byApiKey.map((k) => k.apiKeyId), r.byApiKey, c, false),
      templates: bars(r.byTemplate.map((t) => t.templateId ?? 'no template'), r.byTemplate, c, false),
    });
  }, [stamp, theme]);

  return (
    <section>
      <h1>Spend</h1>
      <p className="muted">{me.role === 'member' ? 'Your key' : 'Every key'}, {r ? `${r.from} to ${r.to}` : `the last ${DAYS} days`} (UTC). Updates every 5 seconds.</p>
      <ErrorNote error={report.error} />
      {r ? (
        <dl className="facts totals" aria-label="Totals">
          <dt>Requests</dt><dd data-testid="total-requests">{r.totals.requests}</dd>
          <dt>Cost</dt><dd data-testid="total-cost">{usd(r.totals.costUsd)}</dd>
          <dt>Saved by the cache</dt><dd data-testid="total-saved">{usd(r.totals.savedUsd)}</dd>
          <dt>Cache-hit rate</dt><dd data-testid="hit-rate">{pct(rate(r.totals))}</dd>
        </dl>
      ) : <p>Loading spend…</p>}
      {r && r.totals.requests === 0 ? <Empty>Nothing spent in these days yet: run something in the playground and watch this page.</Empty> : null}
      {configs && r ? (
        <>
          <h2>Per day</h2>
          <ChartBox config={configs.days} label="Cost, cost saved and cache-hit rate per day" />
          <Table caption="Per day" rows={r.byDay.map((d) => ({ label: d.day, s: d }))} />
          <div className="grid2">
            <div>
              <h2>By key</h2>
              <ChartBox config={configs.keys} label="Cost and cost saved by key" />
              <Table caption="By key" rows={r.byApiKey.map((k) => ({ label: k.apiKeyId, s: k }))} />
            </div>
            <div>
              <h2>By template</h2>
              <ChartBox config={configs.templates} label="Cost and cost saved by template" />
              <Table caption="By template" rows={r.byTemplate.map((t) => ({ label: t.templateId ?? 'no template', s: t }))} />
            </div>
          </div>
        </>
      ) : null}
    </section>
  );
}
