/**
 * Backfill throughput: one table of N rows (the 5-column `items`) loaded by the real backfill
 * workflow (DBOS parent + one child workflow per partition on the flow's queue, chunk steps) into
 * DuckDB and into a pgstream stream, with 1, 2 and 4 workers (and as many block-range partitions),
 * next to `COPY (SELECT * FROM items) TO STDOUT` of the same table by psql in the same run. Prints
 * rows/s, the ratio to COPY and this process's max RSS so far (monotone: the figure after a run
 * bounds that run).
 *
 *   npm run build && node dist/bench/backfill.js [--rows 1000000] [--workers 1,2,4] [--targets duckdb,pgstream]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { Client } from 'pg';
import { openAppState } from '../src/state/open';
import { readServiceEnv } from '../src/config/env';
import { silentLogger } from '../src/core/log';
import '../src/destinations';
import { releaseAllBackfillRuntimes } from '../src/pipeline/backfillRuntime';
import { startBackfill } from '../src/services/backfill/start';
import type { BackfillResult } from '../src/workflows/backfill/types';
import { getCodec } from '../src/wire/registry';
import { launchDbos, shutdownDbos } from '../src/workflows/dbos';
import { arg, createItemsTable, fmt, printTable, startBenchCluster, writeItems } from './support';
import { PipelineContext } from '../src/pipeline/context';
import { bindPipelineContext } from '../src/workflows/context';

const ROWS = Number(arg('rows', '1000000'));
const WORKERS = arg('workers', '1,2,4').split(',').map(Number);
const TARGETS = arg('targets', 'duckdb,pgstream').split(',');

function copySeconds(dsn: string): number {
  const started = process.hrtime.bigint();
  execFileSync('psql', [dsn, '-qAtc', 'COPY (SELECT * FROM items) TO STDOUT'], { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 1 << 30 });
  return Number(process.hrtime.bigint() - started) / 1e9;
}

const maxRssMb = (): number => Math.round(process.resourceUsage().maxRSS / 1024);

async function main(): Promise<void> {
  const bench = await startBenchCluster();
  const dir = mkdtempSync(join(tmpdir(), 'ductstream-bench-backfill-'));
  try {
    const src = await bench.createDatabase('shop');
    const stateDsn = await bench.createDatabase('ductstream');
    const streamDsn = await bench.createDatabase('streams');
    const db = new Client(src);
    await db.connect();
    await createItemsTable(db);
    await writeItems(db, 'insert', ROWS);
    await db.query('VACUUM ANALYZE items');
    await db.end();

    const env = readServiceEnv({ DUCTSTREAM_POSTGRES_DSN: stateDsn });
    const state = await openAppState(env);
    bindPipelineContext(new PipelineContext({ env, flows: state.flows, checkpoints: state.checkpoints, codecFor: getCodec, log: silentLogger }));
    await launchDbos({ env, executorId: 'bench-backfill', systemDatabaseUrl: env.dbosSystemDatabaseUrl!, log: silentLogger, listenQueues: 'all' });
    const rows: string[][] = [];
    let n = 0;
    for (const target of TARGETS) {
      for (const workers of WORKERS) {
        const copy = copySeconds(src);
        const id = `bench-${target}-${workers}`;
        const destination: { name: string; type: string; options: Record<string, string> } =
          target === 'duckdb'
            ? { name: 'warehouse', type: 'duckdb', options: { dsn: join(dir, `${id}.duckdb`) } }
            : { name: 'events', type: 'pgstream', options: { dsn: streamDsn, stream: id } };
        await state.flows.create({
          id,
          name: id,
          wire_format: 'json',
          parallelism: 1,
          state: 'created',
          source: {
            name: 'pg',
            type: 'postgres',
            options: { dsn: src, slot: `slot_${n++}`, publication: 'bench_pub', publication_tables: 'public.items', snapshot_state_backend: 'none' },
          },
          destinations: [destination],
        });
        const started = process.hrtime.bigint();
        const { backfillId } = await startBackfill(
          id,
          { tables: ['public.items'], options: { snapshot_workers: String(workers), partition_count: String(workers) } },
          { tables: 'tables', option: (k) => k },
        );
        const result = await DBOS.retrieveWorkflow<BackfillResult>(backfillId).getResult();
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        await releaseAllBackfillRuntimes();
        const rate = result.rows / seconds;
        const copyRate = ROWS / copy;
        rows.push([target, String(workers), fmt(result.rows), fmt(rate), fmt(copyRate), `${fmt(rate / copyRate, 2)}x`, String(maxRssMb())]);
        process.stderr.write(`${target} x${workers}: ${fmt(rate)} rows/s (COPY ${fmt(copyRate)} rows/s)\n`);
      }
    }
    printTable(['target', 'workers', 'rows', 'rows/s', 'COPY rows/s', 'ratio', 'max RSS MB'], rows);
    await shutdownDbos();
    await state.close();
  } finally {
    await bench.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
