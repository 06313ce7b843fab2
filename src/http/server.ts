import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { DuctError, describeError } from '../core/errors';
import type { Logger } from '../core/log';
import type { StatusCollector } from '../status/collector';
import { flowStatusJson, flowStatusJsonText } from '../status/json';
import { metricsRegistry } from '../status/metrics';
import type { StatusSampler } from '../status/sampler';
import { isAuthorized, TOKEN_COOKIE } from './auth';

export interface StatusHttpOptions {
  /** `host:port`; `:port` listens on every interface. */
  listen: string;
  /** DUCTSTREAM_API_TOKEN's tokens (readApiSecurity); empty: no authentication. */
  tokens: readonly string[];
  log: Logger;
  /** The status page and its JSON API; without it only /metrics and /healthz are served (worker). */
  sampler?: StatusSampler;
  collector?: StatusCollector;
}

export interface StatusHttpServer {
  /** The address actually bound, e.g. `127.0.0.1:8081`. */
  address: string;
  close(): Promise<void>;
}

/** web/ (the page's HTML, JS and CSS), found above this file from src/http and dist/src/http alike. */
function webRoot(): string {
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'web', 'index.html'))) return join(dir, 'web');
  }
  throw new DuctError('internal', `cannot find web/index.html above ${__dirname}`);
}

const STATIC: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/flow': ['flow.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
};

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

const json = (res: ServerResponse, status: number, v: unknown) => send(res, status, 'application/json', JSON.stringify(v));

function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[|\]$/g, '');
  return { host: host === '' ? '0.0.0.0' : host, port: Number(listen.slice(i + 1)) };
}

/**
 * The HTTP side of the operations view: the status page (`/`, `/flow?id=`), its JSON API
 * (`/api/flows`, `/api/flows/<id>` with the last hour of lag), Prometheus `/metrics` and
 * `/healthz`. Every path but `/healthz` needs the API token when one is set.
 */
export async function startStatusHttp(o: StatusHttpOptions): Promise<StatusHttpServer> {
  const root = o.sampler ? webRoot() : '';
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz') return send(res, 200, 'text/plain', 'ok\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'only GET\n');
    const given = url.searchParams.get('token');
    if (given !== null && o.tokens.length > 0 && isAuthorized({ headers: { authorization: `Bearer ${given}` } } as IncomingMessage, o.tokens)) {
      url.searchParams.delete('token');
      res.writeHead(303, {
        location: url.pathname + url.search,
        'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(given)}; HttpOnly; SameSite=Strict; Path=/`,
      });
      return void res.end();
    }
    if (!isAuthorized(req, o.tokens)) {
      res.setHeader('www-authenticate', 'Bearer');
      return send(res, 401, 'text/plain', 'unauthorized: send Authorization: Bearer <DUCTSTREAM_API_TOKEN>, or open /?token=<DUCTSTREAM_API_TOKEN> once\n');
    }
    if (url.pathname === '/metrics') return send(res, 200, metricsRegistry.contentType, await metricsRegistry.metrics());
    if (!o.sampler || !o.collector) return send(res, 404, 'text/plain', 'not found\n');
    const asset = STATIC[url.pathname];
    if (asset) return send(res, 200, asset[1], readFileSync(join(root, asset[0])));
    if (url.pathname === '/api/flows') {
      const all = await o.sampler.list();
      // Each status's JSON text is kept with the sample: a refresh of the list re-serializes nothing.
      const body = `{"flows":[${all.map(flowStatusJsonText).join(',')}],"refreshed_at":${JSON.stringify(new Date().toISOString())}}`;
      return send(res, 200, 'application/json', body);
    }
    const m = /^\/api\/flows\/([^/]+)$/.exec(url.pathname);
    if (m) {
      const id = decodeURIComponent(m[1]!);
      const s = await o.collector.one(id);
      if (!s) return json(res, 404, { error: `flow "${id}" does not exist` });
      return json(res, 200, { ...flowStatusJson(s), lag_history: o.sampler.lagHistory(id).map((p) => [p.t, p.lagBytes, p.lagSeconds]) });
    }
    return send(res, 404, 'text/plain', 'not found\n');
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      o.log.warn('status page request failed', { path: req.url, error: describeError(e) });
      if (!res.headersSent) json(res, 500, { error: describeError(e) });
      else res.end();
    });
  });
  const { host, port } = parseListen(o.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) =>
      reject(
        new DuctError('unavailable', `DUCTSTREAM_HTTP_LISTEN: cannot listen on ${o.listen}: ${e.message}`, {
          field: 'DUCTSTREAM_HTTP_LISTEN',
          hint: 'choose a free port, or stop the process using it',
        }),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const address = typeof addr === 'object' && addr ? `${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` : o.listen;
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
