import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { PROJECT_ROOT } from '../util/project-root.js';

/** Where `npm run build:console` writes the console (gitignored). */
export const CONSOLE_DIR = join(PROJECT_ROOT, 'dist', 'console') + sep;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>PromptLab console</title>
<body style="font-family:system-ui;max-width:40rem;margin:4rem auto;line-height:1.5">
<h1>The console is not built</h1>
<p>Run <code>npm run build:console</code> (or <code>npm start</code>, which builds it when it is missing), then reload.</p>
<p>The API itself works: see <a href="/docs">/docs</a>.</p></body></html>`;

export interface ConsolePluginOptions {
  /** The built console. @defaultValue CONSOLE_DIR */
  dir?: string;
}

/**
 * Serves the console at `/console`: built files as they are (hashed `assets/` cached for a
 * year and sent gzipped when the build left a `.gz` beside them, everything else revalidated), any other path under it as `index.html` so client
 * routes survive a reload; `/` redirects here. Open routes: the console signs in with a key
 * it sends to `/v1` itself. Registered before the rate limiter, like Bull Board.
 */
export const consolePlugin = fp<ConsolePluginOptions>(
  async (app: FastifyInstance, opts) => {
    const given = opts.dir ?? CONSOLE_DIR;
    const dir = given.endsWith(sep) ? given : given + sep; // so a sibling like dist/console-old is not inside it
    const send = (request: FastifyRequest, reply: FastifyReply, file: string) => {
      const immutable = file.startsWith(join(dir, 'assets') + sep);
      reply
        .header('content-type', TYPES[extname(file)] ?? 'application/octet-stream')
        .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
        .header('x-content-type-options', 'nosniff');
      if (immutable && /\bgzip\b/.test(request.headers['accept-encoding'] ?? '') && existsSync(`${file}.gz`)) {
        return reply.header('content-encoding', 'gzip').header('vary', 'accept-encoding').send(createReadStream(`${file}.gz`));
      }
      return reply.send(createReadStream(file));
    };
    const serve = async (path: string, request: FastifyRequest, reply: FastifyReply) => {
      const index = join(dir, 'index.html');
      if (!existsSync(index)) return reply.code(503).header('content-type', 'text/html; charset=utf-8').send(NOT_BUILT);
      const file = normalize(join(dir, path));
      if (path && file.startsWith(dir) && existsSync(file) && statSync(file).isFile()) return send(request, reply, file);
      // A missing hashed asset is a 404 (a stale page asking for an old build), not the app shell.
      if (path.startsWith('assets/')) return reply.code(404).send({ error: { code: 'not_found', message: `No console file ${path}.` } });
      return send(request, reply, index);
    };
    const hide = { schema: { hide: true } };
    app.get('/', hide, (_request, reply) => reply.redirect('/console/'));
    app.get('/console', hide, (_request, reply) => reply.redirect('/console/'));
    app.get('/console/', hide, (request, reply) => serve('', request, reply));
    app.get<{ Params: { '*': string } }>('/console/*', hide, (request, reply) => serve(request.params['*'], request, reply));
  },
  { name: 'console' },
);
