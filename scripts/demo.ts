/**
 * The README's first command: starts a private PostgreSQL with logical replication, creates a
 * demo table and a flow into a DuckDB file, streams inserts, updates and deletes through the real
 * worker binary, and shows that the DuckDB table equals the source table.
 *
 *   npm ci && npm run demo
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { Client } from 'pg';
import { startLocalCluster } from '../tools/localpg';

const ROOT = resolve(__dirname, '..', '..');
const DATA = join(ROOT, 'data');
const DUCKDB_FILE = join(DATA, 'demo.duckdb');
const FLOW_FILE = join(DATA, 'demo-flow.json');
const WORKER = join(ROOT, 'bin', 'ductstream-worker');

function step(msg: string): void {
  process.stdout.write(`\n== ${msg}\n`);
}

function runWorker(env: NodeJS.ProcessEnv): void {
  const r = spawnSync(WORKER, ['-flow-file', FLOW_FILE, '-max-empty-reads', '2'], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`worker exited with ${r.status}`);
}

async function readDuckDb(sql: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(DUCKDB_FILE, { access_mode: 'READ_ONLY' });
  const conn = await db.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJson();
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

async function main(): Promise<void> {
  mkdirSync(DATA, { recursive: true });
  rmSync(DUCKDB_FILE, { force: true });
  rmSync(DUCKDB_FILE + '.wal', { force: true });

  step('starting a private PostgreSQL (wal_level=logical) in a temp directory');
  const cluster = await startLocalCluster();
  try {
    const admin = new Client(cluster.dsn());
    await admin.connect();
    await admin.query('CREATE DATABASE shop');
    await admin.query('CREATE DATABASE ductstream');
    await admin.end();
    process.stdout.write(`postgres is at ${cluster.dsn('shop')}\n`);

    const shop = new Client(cluster.dsn('shop'));
    await shop.connect();
    await shop.query(`CREATE TABLE public.orders (
      id bigserial PRIMARY KEY, customer text NOT NULL, amount numeric(12,2) NOT NULL,
      status text NOT NULL DEFAULT 'new', tags text[], details jsonb, created_at timestamptz NOT NULL DEFAULT now())`);

    const flow = {
      id: 'demo-orders',
      name: 'Demo: orders into DuckDB',
      source: {
        name: 'shop',
        type: 'postgres',
        options: { dsn: cluster.dsn('shop'), slot: 'demo_slot', publication: 'demo_pub', publication_tables: 'public.orders', batch_size: '1000' },
      },
      destinations: [{ name: 'warehouse', type: 'duckdb', options: { dsn: DUCKDB_FILE } }],
      wire_format: 'json',
      parallelism: 1,
    };
    writeFileSync(FLOW_FILE, JSON.stringify(flow, null, 2));
    const env = { DUCTSTREAM_POSTGRES_DSN: cluster.dsn('ductstream'), DUCTSTREAM_PROGRESS_INTERVAL: '2' };

    step('creating the flow (slot + publication) and taking the first run: nothing to copy yet');
    runWorker(env);

    step('inserting 10,000 orders in Postgres');
    await shop.query(`INSERT INTO orders (customer, amount, tags, details)
      SELECT 'customer-' || (g % 97), round((g * 1.37)::numeric, 2), ARRAY['t' || (g % 3)], jsonb_build_object('n', g, 'big', 12345678901234567890)
      FROM generate_series(1, 10000) g`);
    step('streaming them into DuckDB with ./bin/ductstream-worker -flow-file data/demo-flow.json -max-empty-reads 2');
    runWorker(env);

    step('updating 2,000 orders, deleting 500, inserting 100 more');
    await shop.query(`UPDATE orders SET status = 'paid', amount = amount + 0.01 WHERE id % 5 = 0`);
    await shop.query(`DELETE FROM orders WHERE id % 20 = 1`);
    await shop.query(`INSERT INTO orders (customer, amount) SELECT 'late-' || g, g FROM generate_series(1, 100) g`);
    runWorker(env);

    step('comparing source and destination');
    const src = (await shop.query(`SELECT count(*)::text AS n, sum(amount)::text AS total, count(*) FILTER (WHERE status = 'paid')::text AS paid FROM orders`))
      .rows[0] as Record<string, string>;
    const dst = (
      await readDuckDb(
        `SELECT count(*)::VARCHAR AS n, sum(amount)::VARCHAR AS total, count(*) FILTER (WHERE status = 'paid')::VARCHAR AS paid FROM public.orders`,
      )
    )[0]!;
    process.stdout.write(`postgres: ${JSON.stringify(src)}\nduckdb:   ${JSON.stringify(dst)}\n`);
    const sample = await readDuckDb(`SELECT id, customer, amount, status, tags, details, created_at FROM public.orders ORDER BY id DESC LIMIT 3`);
    process.stdout.write(`latest rows in ${DUCKDB_FILE}:\n${sample.map((r) => '  ' + JSON.stringify(r)).join('\n')}\n`);
    await shop.end();
    if (src.n !== dst.n || Number(src.total) !== Number(dst.total) || src.paid !== dst.paid) {
      throw new Error('destination does not match the source');
    }
    step(`done: DuckDB matches Postgres (${src.n} orders). Open it with: duckdb ${DUCKDB_FILE}`);
  } finally {
    await cluster.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
