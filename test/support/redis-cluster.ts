import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from './redis-server.js';

const run = promisify(execFile);

/** A local Redis Cluster a test owns: its nodes (masters first, as created), and what a client needs. */
export interface RedisCluster {
  nodes: RedisServer[];
  /** `REDIS_CLUSTER_NODES` for it. */
  spec: string;
  /** The env a PromptLab process needs to use it. */
  env: { REDIS_URL: string; REDIS_CLUSTER_NODES: string };
  /** The node serving `port` as master now, per CLUSTER NODES of a live node. */
  masters(): Promise<{ port: number; slots: string }[]>;
  stop(): Promise<void>;
}

/** `CLUSTER INFO`'s state seen from one node, or undefined when it does not answer. */
async function state(port: number): Promise<string | undefined> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  r.on('error', () => {});
  try {
    await r.connect();
    return /cluster_state:(\w+)/.exec(await r.cluster('INFO'))?.[1];
  } catch {
    return undefined;
  } finally {
    r.disconnect();
  }
}

/** Waits until every live node says `cluster_state:ok`. */
export async function waitClusterOk(ports: number[], timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(ports.map(state));
    if (states.every((s) => s === 'ok')) return;
    if (Date.now() > until) throw new Error(`cluster not ok after ${timeoutMs} ms: ${states.join(',')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until every replica has its master link up (a replica that never synced cannot be promoted). */
async function waitReplicasSynced(ports: number[], timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (const port of ports) {
    const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    r.on('error', () => {});
    try {
      for (;;) {
        const info = await r.info('replication');
        if (/role:master/.test(info) || /master_link_status:up/.test(info)) break;
        if (Date.now() > until) throw new Error(`replica ${port} not synced after ${timeoutMs} ms`);
        await new Promise((res) => setTimeout(res, 50));
      }
    } finally {
      r.disconnect();
    }
  }
}

/** Waits until the cluster has failed `port` over: a live node sees it failed, its slots served by a promoted replica, the cluster ok. */
export async function waitFailover(c: RedisCluster, port: number, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  const live = c.nodes.filter((n) => n.port !== port).map((n) => n.port);
  for (;;) {
    const masters = await c.masters();
    if (masters.length && !masters.some((m) => m.port === port) && masters.filter((m) => m.slots).length === c.spec.split(',').length) {
      await waitClusterOk(live, Math.max(1, until - Date.now()));
      return;
    }
    if (Date.now() > until) throw new Error(`no failover of ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts `masters` × (1 + replicas) `redis-server --cluster-enabled yes` processes on free ports
 * and joins them with `redis-cli --cluster create … --cluster-replicas <replicas> --cluster-yes`;
 * resolves once every node sees the cluster ok. `stop()` kills them and removes their files.
 */
export async function startRedisCluster(masters = 3, replicas = 1): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'plt-cluster-'));
  const args = (port: number) => ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '1000', '--repl-diskless-sync-delay', '0', '--dir', dir];
  const nodes = await Promise.all(Array.from({ length: masters * (1 + replicas) }, () => startRedisServer({ args })));
  const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
  await run('redis-cli', ['--cluster', 'create', ...addrs, '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 30_000 });
  await waitClusterOk(nodes.map((n) => n.port));
  await waitReplicasSynced(nodes.map((n) => n.port));
  const spec = addrs.slice(0, masters).join(',');
  return {
    nodes,
    spec,
    env: { REDIS_URL: `redis://${addrs[0]}`, REDIS_CLUSTER_NODES: spec },
    async masters() {
      for (const n of nodes) {
        const r = new Redis({ port: n.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
        r.on('error', () => {});
        try {
          await r.connect();
          const text = (await r.cluster('NODES')) as string;
          return text.trim().split('\n').map((l) => l.split(' ')).filter((f) => f[2]!.includes('master') && !f[2]!.includes('fail'))
            .map((f) => ({ port: Number(f[1]!.split(':')[1]!.split('@')[0]), slots: f.slice(8).join(' ') }));
        } catch {
          // this node is down: ask the next
        } finally {
          r.disconnect();
        }
      }
      return [];
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.kill().catch(() => {})));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
