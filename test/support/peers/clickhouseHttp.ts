/**
 * A ClickHouse server for tests: ClickHouse 26 in process (npm `chdb`) behind the ClickHouse HTTP
 * interface, as much of it as `@clickhouse/client` uses (see shared notes/test-peers.md):
 *
 * - `GET/POST /ping` (and `/`) → `Ok.`;
 * - the query is `?query=` followed by the request body (an INSERT's rows travel in the body);
 * - `param_<name>` URL parameters are bound to `{name:Type}` placeholders; `database` becomes the
 *   current database; other parameters (settings such as `mutations_sync`) apply to that query only;
 * - answers carry `X-ClickHouse-Query-Id`, `X-ClickHouse-Format`, `X-ClickHouse-Summary`; errors are
 *   HTTP 500 with ClickHouse's own `Code: N. DB::Exception: ... (NAME)` text.
 *
 * One engine per process and one query at a time: queries are serialized. The data lives under
 * the directory given, so a restarted server (same directory) finds its tables again.
 *
 * Run as a program: `node --import tsx clickhouseHttp.ts <dataDir> [port]` prints `listening <port>`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Session } from 'chdb';

/** URL parameters the client sends that are not settings. */
const CLIENT_PARAMS = new Set(['query', 'query_id', 'database', 'default_format', 'session_id', 'session_timeout', 'session_check', 'user', 'password']);
/** Settings that mean something only to a real server's HTTP layer. */
const HTTP_ONLY_SETTINGS = new Set(['enable_http_compression', 'wait_end_of_query', 'send_progress_in_http_headers', 'http_headers_progress_interval_ms']);

const FORMAT_CLAUSE = /\bFORMAT\s+([A-Za-z]+)\s*$/i;

export function serveClickhouse(dataDir: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
  const session = new Session(dataDir);
  session.query('SET output_format_json_quote_64bit_integers = 1');
  let tail: Promise<unknown> = Promise.resolve();
  const serially = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if (url.pathname === '/ping' || (url.pathname === '/' && !url.searchParams.has('query') && body === '')) {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('Ok.\n');
      return;
    }
    const queryId = url.searchParams.get('query_id') ?? randomUUID();
    const head = url.searchParams.get('query') ?? '';
    const sql = head && body ? `${head}\n${body}` : head || body;
    const params: Record<string, string> = {};
    const settings: string[] = [];
    for (const [k, v] of url.searchParams) {
      if (k.startsWith('param_')) params[k.slice('param_'.length)] = v;
      else if (!CLIENT_PARAMS.has(k) && !HTTP_ONLY_SETTINGS.has(k)) settings.push(`${k} = ${settingLiteral(v)}`);
    }
    const database = url.searchParams.get('database');
    const isInsert = /^\s*INSERT\b/i.test(sql);
    const format = isInsert ? 'TabSeparated' : (FORMAT_CLAUSE.exec(sql.trim())?.[1] ?? url.searchParams.get('default_format') ?? 'TabSeparated');
    try {
      const out = await serially(async () => {
        if (database) session.query(`USE ${database.replace(/[^A-Za-z0-9_]/g, '')}`);
        const reset: string[] = [];
        for (const s of settings) {
          session.query(`SET ${s}`);
          reset.push(`SET ${s.slice(0, s.indexOf(' = '))} = DEFAULT`);
        }
        try {
          const text = Object.keys(params).length > 0 ? session.queryBind(stripFormat(sql), params, format) : session.query(stripFormat(sql), format);
          return text;
        } finally {
          for (const r of reset) session.query(r);
          if (database) session.query('USE default');
        }
      });
      res.writeHead(200, {
        'Content-Type': 'text/plain; charset=UTF-8',
        'X-ClickHouse-Query-Id': queryId,
        'X-ClickHouse-Format': format,
        'X-ClickHouse-Summary': '{"read_rows":"0","read_bytes":"0","written_rows":"0","written_bytes":"0","total_rows_to_read":"0"}',
      });
      res.end(out);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      const code = /Code: (\d+)/.exec(msg)?.[1] ?? '1000';
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=UTF-8', 'X-ClickHouse-Query-Id': queryId, 'X-ClickHouse-Exception-Code': code });
      res.end(msg.startsWith('Code:') ? msg : `Code: ${code}. DB::Exception: ${msg}. (UNKNOWN_EXCEPTION)`);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(e));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => {
              session.cleanup();
              done();
            });
          }),
      });
    });
  });
}

/** A query's text without the trailing `FORMAT x` of a SELECT (the format is passed apart). */
function stripFormat(sql: string): string {
  if (/^\s*INSERT\b/i.test(sql)) return sql;
  return sql.trim().replace(FORMAT_CLAUSE, '');
}

function settingLiteral(v: string): string {
  return /^-?\d+(\.\d+)?$/.test(v) ? v : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

if (require.main === module) {
  const [dir, port] = process.argv.slice(2);
  if (!dir) throw new Error('usage: clickhouseHttp.ts <dataDir> [port]');
  void serveClickhouse(dir, Number(port ?? 0)).then((s) => {
    process.stdout.write(`listening ${s.port}\n`);
    const stop = (): void => void s.close().then(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
