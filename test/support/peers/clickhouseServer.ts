/**
 * A real ClickHouse (26, `chdb`) for tests and benchmarks, in a child process serving the ClickHouse
 * HTTP interface (clickhouseHttp.ts) on a local port, with its data in a temporary directory. The
 * product reaches it through a plain `dsn`, exactly as a ClickHouse server. `stop()` + `start()`
 * takes it away and brings it back on the same port with the same data (an outage).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';

const SERVER_FILE = join(__dirname, 'clickhouseHttp.ts');

export interface ClickhouseServer {
  /** `http://default:@127.0.0.1:PORT/default`: the destination's `dsn`. */
  dsn: string;
  port: number;
  /** A client for reading back (64-bit integers and decimals quoted in JSON). */
  client: ClickHouseClient;
  /** Rows of a query as objects. */
  rows<T = Record<string, unknown>>(query: string): Promise<T[]>;
  /** Takes the server away (the port stops answering); the data stays. */
  stop(): Promise<void>;
  /** Brings it back on the same port. */
  start(): Promise<void>;
  /** Stops for good and removes the data. */
  dispose(): Promise<void>;
}

function spawnServer(dir: string, port: number): Promise<{ child: ChildProcess; port: number }> {
  const ts = SERVER_FILE.endsWith('.ts');
  const args = ts ? ['--import', 'tsx', SERVER_FILE, dir, String(port)] : [SERVER_FILE, dir, String(port)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`clickhouse test server did not start: ${err}`)), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`clickhouse test server exited with ${code}: ${err}`));
    });
  });
}

function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export async function startClickhouseServer(): Promise<ClickhouseServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ductstream-clickhouse-'));
  const started = await spawnServer(join(dir, 'data'), 0);
  const port = started.port;
  const url = `http://127.0.0.1:${port}`;
  const client = createClient({
    url,
    clickhouse_settings: { output_format_json_quote_64bit_integers: 1, output_format_json_quote_decimals: 1 },
    log: { level: ClickHouseLogLevel.OFF },
  });
  let current: ChildProcess | undefined = started.child;
  return {
    dsn: `http://default:@127.0.0.1:${port}/default`,
    port,
    client,
    async rows<T>(query: string): Promise<T[]> {
      return (await client.query({ query, format: 'JSONEachRow' })).json<T>();
    },
    async stop() {
      await stopChild(current);
      current = undefined;
    },
    async start() {
      current = (await spawnServer(join(dir, 'data'), port)).child;
    },
    async dispose() {
      await client.close();
      await stopChild(current);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
