/**
 * Backfill throughput: one table of N rows (the 5-column `items`) loaded by the real backfill
 * workflow (DBOS parent + one child workflow per partition on the flow's queue, chunk steps) into
 * DuckDB and into a pgstream stream, with 1, 2 and 4 workers (and as many block-range partitions),
 * next to `COPY (SELECT * FROM items) TO STDOUT` of the same table by psql in the same run. Prints
 * rows/s, the ratio to COPY, the CPU time per row of this process during the run (all threads:
 * decode, planning, DuckDB's own threads; the PostgreSQL server's work is not in it) and of psql
 * for the COPY, this process's RSS before each run, its peak during the run (sampled every 20 ms),
 * the process's max RSS so far (monotone, including the data generation) and the 1-minute load
 * average when the run ended (the machine is shared: above its 2 cores, figures are low and noisy).
 *
 * Into DuckDB, `--duckdb-csv true,false` runs each worker count with the destination's
 * `backfill_csv` on (chunks as CSV files loaded by DuckDB's read_csv) and off (decoded rows): an
 * A/B in the same run; the target column shows `duckdb csv` or `duckdb rows`.
 *
 *   npm run build && node dist/bench/backfill.js [--rows 1000000] [--workers 1,2,4] [--targets duckdb,pgstream] [--chunk 20000] [--duckdb-memory-limit 128MB] [--duckdb-csv true,false]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
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
/** Rows per chunk step (DUCTSTREAM_BACKFILL_CHUNK_ROWS); the service's default when not given. */
const CHUNK = arg('chunk', '');
/** The DuckDB destination's `memory_limit` option; DuckDB's default when not given. */
const DUCKDB_MEMORY_LIMIT = arg('duckdb-memory-limit', '');
/** The DuckDB destination's `backfill_csv` values to run (A/B in the same run). */
const DUCKDB_CSV = arg('duckdb-csv', 'true,false').split(',');

/** psql's `COPY … TO STDOUT` of the table into /dev/null: its wall time and psql's CPU time (children's rusage). */
function copyRun(dsn: string): { seconds: number; cpuMicros: number } {
  const cpu0 = childCpuMicros();
  const started = process.hrtime.bigint();
  execFileSync('psql', [dsn, '-qAtc', 'COPY (SELECT * FROM items) TO STDOUT'], { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 1 << 30 });
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, cpuMicros: childCpuMicros() - cpu0 };
}

/** CPU time of this process's waited-for children so far (utime + stime from /proc/self/stat, cutime + cstime), in µs. */
function childCpuMicros(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) * 10_000;
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

const maxRssMb = (): number => Math.round(process.resourceUsage().maxRSS / 1024);

/** Samples this process's RSS every 20 ms from `start()` on; `stop()` gives the peak in MB. */
function rssPeak(): { stop(): number } {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.round(Math.max(peak, process.memoryUsage.rss()) / 2 ** 20);
    },
  };
}

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

    const env = readServiceEnv({ DUCTSTREAM_POSTGRES_DSN: stateDsn, ...(CHUNK ? { DUCTSTREAM_BACKFILL_CHUNK_ROWS: CHUNK } : {}) });
    const state = await openAppState(env);
    bindPipelineContext(new PipelineContext({ env, flows: state.flows, checkpoints: state.checkpoints, codecFor: getCodec, log: silentLogger }));
    await launchDbos({ env, executorId: 'bench-backfill', systemDatabaseUrl: env.dbosSystemDatabaseUrl!, log: silentLogger, listenQueues: 'all' });
    const rows: string[][] = [];
    let n = 0;
    const runs = TARGETS.flatMap((target) => (target === 'duckdb' ? DUCKDB_CSV.map((csv) => ({ target, csv })) : [{ target, csv: '' }]));
    for (const { target, csv } of runs) {
      for (const workers of WORKERS) {
        const copy = copyRun(src);
        const id = `bench-${target}-${csv === 'true' ? 'csv' : csv === 'false' ? 'rows' : ''}-${workers}`;
        const label = csv === '' ? target : `${target} ${csv === 'true' ? 'csv' : 'rows'}`;
        const destination: { name: string; type: string; options: Record<string, string> } =
          target === 'duckdb'
            ? {
                name: 'warehouse',
                type: 'duckdb',
                options: {
                  dsn: join(dir, `${id}.duckdb`),
                  backfill_csv: csv,
                  ...(DUCKDB_MEMORY_LIMIT ? { memory_limit: DUCKDB_MEMORY_LIMIT } : {}),
                },
              }
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
        const before = Math.round(process.memoryUsage.rss() / 2 ** 20);
        const rss = rssPeak();
        const cpu0 = cpuMicros();
        const started = process.hrtime.bigint();
        const { backfillId } = await startBackfill(
          id,
          { tables: ['public.items'], options: { snapshot_workers: String(workers), partition_count: String(workers) } },
          { tables: 'tables', option: (k) => k },
        );
        const result = await DBOS.retrieveWorkflow<BackfillResult>(backfillId).getResult({ pollingIntervalMs: 20 });
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const cpu = cpuMicros() - cpu0;
        const peak = rss.stop();
        const load = loadavg()[0]!;
        await releaseAllBackfillRuntimes();
        const rate = result.rows / seconds;
        const copyRate = ROWS / copy.seconds;
        rows.push([
          label,
          String(workers),
          fmt(result.rows),
          fmt(rate),
          fmt(copyRate),
          `${fmt(rate / copyRate, 2)}x`,
          fmt(cpu / result.rows, 2),
          fmt(copy.cpuMicros / ROWS, 2),
          String(before),
          String(peak),
          String(maxRssMb()),
          fmt(load, 1),
        ]);
        process.stderr.write(`${label} x${workers}: ${fmt(rate)} rows/s (COPY ${fmt(copyRate)} rows/s)\n`);
      }
    }
    printTable(
      [
        'target',
        'workers',
        'rows',
        'rows/s',
        'COPY rows/s',
        'ratio',
        'CPU µs/row',
        'psql COPY CPU µs/row',
        'RSS before MB',
        'peak RSS in run MB',
        'max RSS so far MB',
        'load avg',
      ],
      rows,
    );
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
