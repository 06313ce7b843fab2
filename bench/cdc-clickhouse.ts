/**
 * End-to-end CDC into ClickHouse: N inserted rows, then N updated rows, streamed through the real
 * pipeline (pgoutput source → DBOS flowRun workflow → ClickHouse destination over HTTP, checkpoints
 * in Postgres), once per apply mode (`versioned`, the default, and `mutations`). In the same run,
 * the raw pgoutput drain of the same data (another slot on the same publication) is the baseline;
 * the ratio is pipeline / raw. ClickHouse is chdb (ClickHouse 26) behind the test HTTP server in a
 * child process on the same 2 cores, so its CPU competes with the pipeline's and Postgres's.
 * The last columns are this process's CPU per row (JS thread, other threads).
 *
 *   npm run build && node dist/bench/cdc-clickhouse.js [--rows 200000] [--batch-size 10000] [--modes versioned,mutations]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { openAppState } from '../src/state/open';
import { readServiceEnv } from '../src/config/env';
import { silentLogger } from '../src/core/log';
import '../src/destinations';
import { measureRawDrain } from '../tools/rawDrain';
import { getCodec } from '../src/wire/registry';
import { launchDbos, shutdownDbos } from '../src/workflows/dbos';
import { flowRun } from '../src/workflows/flowRun';
import { startClickhouseServer } from '../test/support/peers/clickhouseServer';
import { arg, createItemsTable, fmt, printTable, startBenchCluster, threadCpuMicros, writeItems } from './support';
import { PipelineContext } from '../src/pipeline/context';
import { bindPipelineContext, pipelineContext } from '../src/workflows/context';

const ROWS = Number(arg('rows', '200000'));
const BATCH_SIZE = Number(arg('batch-size', '10000'));
const MODES = arg('modes', 'versioned,mutations').split(',');

async function main(): Promise<void> {
  const bench = await startBenchCluster();
  const dir = mkdtempSync(join(tmpdir(), 'ductstream-bench-'));
  const clickhouse = await startClickhouseServer();
  try {
    const src = await bench.createDatabase('shop');
    const stateDsn = await bench.createDatabase('ductstream');
    const { Client } = await import('pg');
    const db = new Client(src);
    await db.connect();
    await createItemsTable(db);
    await db.query('CREATE PUBLICATION bench_pub FOR TABLE items');
    await db.query(`SELECT pg_create_logical_replication_slot('raw_slot', 'pgoutput')`);
    for (const b of MODES) await db.query(`SELECT pg_create_logical_replication_slot('flow_${b}_slot', 'pgoutput')`);

    const env = readServiceEnv({ DUCTSTREAM_POSTGRES_DSN: stateDsn, DUCTSTREAM_MAX_WRITE_ROWS: arg('max-write-rows', '10000') });
    const state = await openAppState(env);
    bindPipelineContext(new PipelineContext({ env, flows: state.flows, checkpoints: state.checkpoints, codecFor: getCodec, log: silentLogger }));
    for (const b of MODES) {
      await state.flows.create({
        id: `bench-${b}`,
        name: `bench ${b}`,
        wire_format: 'json',
        parallelism: 1,
        state: 'running',
        source: {
          name: 'pg',
          type: 'postgres',
          options: {
            dsn: src,
            slot: `flow_${b}_slot`,
            publication: 'bench_pub',
            batch_size: String(BATCH_SIZE),
            batch_timeout: '100ms',
            create_slot: 'false',
            ensure_publication: 'false',
          },
        },
        destinations: [{ name: 'ch', type: 'clickhouse', options: { dsn: clickhouse.dsn, database: `bench_${b}`, apply_mode: b } }],
      });
    }
    await launchDbos({ env, executorId: 'bench-cdc-clickhouse', systemDatabaseUrl: env.dbosSystemDatabaseUrl!, log: silentLogger });

    const results: string[][] = [];
    for (const phase of ['insert', 'update'] as const) {
      process.stderr.write(`${phase}: writing ${fmt(ROWS)} rows...\n`);
      await writeItems(db, phase, ROWS);
      const raw = await measureRawDrain({ dsn: src, slot: 'raw_slot', publication: 'bench_pub' });
      process.stderr.write(`${phase}: raw drain ${fmt(raw.rowsPerSecond)} rows/s\n`);
      for (const b of MODES) {
        const flowId = `bench-${b}`;
        const p = pipelineContext().progress.of(flowId);
        const startRows = p.rows;
        const startWrites = p.batches;
        const started = Date.now();
        const cpu0 = threadCpuMicros();
        let doneAt = 0;
        const watcher = setInterval(() => {
          if (!doneAt && p.rows - startRows >= ROWS) doneAt = Date.now();
        }, 5);
        const handle = await DBOS.startWorkflow(flowRun, { workflowID: `bench-${flowId}-${phase}` })(flowId, {
          maxEmptyReads: 1,
          maxStepsPerRun: 100_000,
          onBound: 'end',
          chainIndex: 0,
        });
        await handle.getResult();
        clearInterval(watcher);
        if (!doneAt) doneAt = Date.now();
        const cpu1 = threadCpuMicros();
        const rows = p.rows - startRows;
        const secs = (doneAt - started) / 1000;
        const rate = rows / secs;
        results.push([
          phase,
          String(b),
          fmt(rows),
          fmt(secs, 2),
          fmt(rate),
          fmt(raw.rowsPerSecond),
          fmt(rate / raw.rowsPerSecond, 2) + 'x',
          fmt(((raw.bytes / raw.rows) * rate) / 1e6, 1),
          fmt(rows / Math.max(1, p.batches - startWrites)),
          fmt((cpu1.main - cpu0.main) / rows, 2),
          fmt((cpu1.others - cpu0.others) / rows, 2),
        ]);
        process.stderr.write(`${phase} apply_mode=${b}: ${fmt(rate)} rows/s\n`);
      }
    }
    await db.end();
    await shutdownDbos();
    await state.close();
    const [check] = await clickhouse.rows<{ n: string }>(`SELECT count() AS n FROM bench_versioned.items FINAL`);
    process.stdout.write(
      `\nbench/cdc-clickhouse: ${fmt(ROWS)} rows, 5 columns, batch_size ${BATCH_SIZE}, checkpoints in Postgres (versioned table holds ${check?.n} rows with FINAL)\n`,
    );
    printTable(
      [
        'phase',
        'apply_mode',
        'rows',
        'seconds',
        'rows/s',
        'raw drain rows/s',
        'ratio',
        'MB/s (pgoutput)',
        'rows/write',
        'JS thread CPU µs/row',
        'other threads CPU µs/row',
      ],
      results,
    );
  } finally {
    await clickhouse.dispose();
    await bench.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
