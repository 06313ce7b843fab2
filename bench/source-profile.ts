/**
 * What the PostgreSQL source costs per row in this process: N inserted rows then N updates of the
 * table of bench/cdc-duckdb are read (a) by the raw drain (framing only: the baseline) and (b) by
 * `PostgresSource` (decoding, value parsing, batching), each from its own slot. Reports wall-clock
 * rate and this process's CPU time per row (Node only: the WAL sender is another process).
 *
 *   npm run build && node [--cpu-prof] dist/bench/source-profile.js [--rows 300000] [--batch-size 10000]
 */
import { Client } from 'pg';
import { silentLogger } from '../src/core/log';
import { parsePostgresSourceConfig } from '../src/source/postgres/config';
import { measureRawDrain } from '../tools/rawDrain';
import { PostgresSource } from '../src/source/postgres/source';
import { arg, createItemsTable, fmt, printTable, startBenchCluster, writeItems } from './support';

const ROWS = Number(arg('rows', '300000'));
const BATCH = arg('batch-size', '10000');

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function main(): Promise<void> {
  const bench = await startBenchCluster();
  try {
    const dsn = await bench.createDatabase('shop');
    const db = new Client(dsn);
    await db.connect();
    await createItemsTable(db);
    await db.query('CREATE PUBLICATION bench_pub FOR TABLE items');
    const results: string[][] = [];
    for (const phase of ['insert', 'update'] as const) {
      await db.query(`SELECT pg_create_logical_replication_slot('raw_${phase}', 'pgoutput')`);
      await db.query(`SELECT pg_create_logical_replication_slot('src_${phase}', 'pgoutput')`);
      await writeItems(db, phase, ROWS);
      let cpu0 = cpuMicros();
      const raw = await measureRawDrain({ dsn, slot: `raw_${phase}`, publication: 'bench_pub' });
      const rawCpu = cpuMicros() - cpu0;

      const config = parsePostgresSourceConfig(
        { dsn, slot: `src_${phase}`, publication: 'bench_pub', batch_size: BATCH, batch_timeout: '200ms', create_slot: 'false', ensure_publication: 'false' },
        'source.options',
      );
      const source = new PostgresSource(config, { flowId: 'bench', log: silentLogger });
      cpu0 = cpuMicros();
      const started = performance.now();
      let rows = 0;
      for await (const batch of source.open(0n)) {
        rows += batch.changes.length;
        if (rows >= ROWS) {
          await source.ack(batch.checkpointLsn);
          break;
        }
      }
      const secs = (performance.now() - started) / 1000;
      const srcCpu = cpuMicros() - cpu0;
      await source.close();
      results.push([
        phase,
        fmt(rows),
        fmt(raw.rowsPerSecond),
        fmt(rawCpu / raw.rows, 2),
        fmt(rows / secs),
        fmt(srcCpu / rows, 2),
        fmt((srcCpu - rawCpu) / rows, 2),
      ]);
    }
    await db.end();
    process.stdout.write(`\nbench/source-profile: ${fmt(ROWS)} rows, batch_size ${BATCH}\n`);
    printTable(['phase', 'rows', 'raw drain rows/s', 'raw CPU µs/row', 'source rows/s', 'source CPU µs/row', 'decoding µs/row (source - raw)'], results);
  } finally {
    await bench.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
