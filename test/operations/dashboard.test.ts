import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { expect, it } from 'vitest';
import { registry } from '../../src/metrics/registry.js';

/**
 * The Grafana dashboard (deploy/grafana) and the compose `observability` profile stay true to the
 * code: every metric a panel queries is one PromptLab exports, with the labels the query uses,
 * and every file the profile mounts exists.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const dashboard = JSON.parse(readFileSync(`${root}deploy/grafana/promptlab-dashboard.json`, 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };

it('every panel queries metrics PromptLab exports, by labels they have', () => {
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));
  expect(exprs.length).toBeGreaterThan(10);
  for (const { panel, expr } of exprs) {
    const names = [...expr.matchAll(/promptlab_[a-z_]+/g)].map((m) => m[0]);
    expect(names.length, panel).toBeGreaterThan(0);
    for (const full of names) {
      const base = full.replace(/_(bucket|count|sum)$/, '');
      const metric = (registry.getSingleMetric(full) ?? registry.getSingleMetric(base)) as { labelNames?: string[] } | undefined;
      expect(metric, `${panel}: ${full} is not exported`).toBeDefined();
      const labels = new Set([...(metric!.labelNames ?? []), ...(full.endsWith('_bucket') ? ['le'] : [])]);
      const used = [
        ...[...expr.matchAll(/by \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim())),
        ...[...expr.matchAll(new RegExp(`${full}\\{([^}]*)\\}`, 'g'))].flatMap((m) => [...m[1]!.matchAll(/(\w+)\s*[!=]/g)].map((x) => x[1]!)),
      ];
      // A `by` list names the labels of every metric in its expression: each must be on this one, unless another metric has it.
      for (const l of used) if (!labels.has(l)) expect(names.some((n) => ((registry.getSingleMetric(n.replace(/_(bucket|count|sum)$/, '')) as { labelNames?: string[] } | undefined)?.labelNames ?? []).includes(l) || l === 'le'), `${panel}: label ${l} of ${full}`).toBe(true);
    }
  }
});

it('the compose observability profile mounts files that exist and scrapes the API and workers', () => {
  const compose = parse(readFileSync(`${root}docker-compose.yml`, 'utf8')) as { services: Record<string, { profiles?: string[]; volumes?: string[] }> };
  const services = Object.entries(compose.services).filter(([, s]) => s.profiles?.includes('observability')).map(([name]) => name);
  expect(services.sort()).toEqual(['grafana', 'jaeger', 'prometheus']);
  for (const name of services) {
    for (const v of compose.services[name]!.volumes ?? []) expect(existsSync(`${root}${v.split(':')[0]!.replace(/^\.\//, '')}`), v).toBe(true);
  }
  const prom = parse(readFileSync(`${root}deploy/prometheus.yml`, 'utf8')) as { scrape_configs: { job_name: string }[] };
  expect(prom.scrape_configs.map((c) => c.job_name)).toEqual(['promptlab-api', 'promptlab-workers']);
});
