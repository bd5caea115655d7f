import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { consolePlugin } from '../../src/console/plugin.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

async function serve(build?: (dir: string) => void) {
  const root = mkdtempSync(join(tmpdir(), 'promptlab-console-'));
  dirs.push(root);
  const dir = join(root, 'console');
  if (build) {
    mkdirSync(join(dir, 'assets'), { recursive: true });
    build(dir);
  }
  writeFileSync(join(root, 'secret.txt'), 'not for the web');
  const app = Fastify();
  await app.register(consolePlugin, { dir });
  return app;
}

describe('serving the console', () => {
  it('says how to build it when it is not built', async () => {
    const app = await serve();
    const res = await app.inject('/console/');
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('npm run build:console');
  });

  it('serves files, client routes as index.html, hashed assets cached and gzipped, and nothing outside its directory', async () => {
    const app = await serve((dir) => {
      writeFileSync(join(dir, 'index.html'), '<!doctype html><title>app</title>');
      writeFileSync(join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
      writeFileSync(join(dir, 'assets', 'index-abc.js.gz'), 'gz-bytes');
    });
    expect((await app.inject('/')).headers.location).toBe('/console/');
    expect((await app.inject('/console')).headers.location).toBe('/console/');
    for (const url of ['/console/..%2fsecret.txt', '/console/%2e%2e/secret.txt', '/console/assets/..%2f..%2fsecret.txt']) {
      expect((await app.inject(url)).body, url).not.toContain('not for the web');
    }
    for (const url of ['/console/', '/console/jobs/gen_1', '/console/templates/new?x=1', '/console/..%2fsecret.txt']) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.body, url).toBe('<!doctype html><title>app</title>');
      expect(res.headers['cache-control'], url).toBe('no-cache');
    }
    const js = await app.inject('/console/assets/index-abc.js');
    expect(js.headers).toMatchObject({ 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=31536000, immutable' });
    expect(js.body).toBe('console.log(1)');
    const gz = await app.inject({ url: '/console/assets/index-abc.js', headers: { 'accept-encoding': 'gzip, br' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.body).toBe('gz-bytes');
    expect((await app.inject('/console/assets/old-123.js')).statusCode).toBe(404);
  });
});
