/**
 * DuckDB destination throughput: 5-column table, insert and update batches of 1,000 and 10,000 rows
 * into a file database (commit per batch, meta table on). Prints rows/s per phase.
 *
 *   npx tsx bench/duckdb-destination.ts [rowsPerPhase=100000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { duckdbDestinationKind } from '../src/destinations/duckdb';
import type { DuckdbDestination } from '../src/destinations/duckdb/destination';
import { ChangeLog, destinationContext, table } from '../test/support/changes';
import { rssLine } from './support';

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 100_000);
  const dir = mkdtempSync(join(tmpdir(), 'ductstream-bench-duckdb-'));
  try {
    for (const batchSize of [1000, 10_000]) {
      const config = duckdbDestinationKind.parseConfig({ dsn: join(dir, `bench-${batchSize}.duckdb`) }, 'destinations[0].options');
      const dest = (await duckdbDestinationKind.create(config, destinationContext('bench'))) as DuckdbDestination;
      await dest.open();
      const t = table('public.bench', { id: 'int8', name: 'text', amount: 'numeric(12,2)', ts: 'timestamptz', flag: 'bool' }, { primaryKey: ['id'] });
      const log = new ChangeLog('bench');
      for (const phase of ['insert', 'update'] as const) {
        // Batches are built first so that only the destination's work is timed.
        const batches = [];
        for (let start = 0; start < total; start += batchSize) {
          log.tx((x) => {
            for (let i = start; i < start + batchSize; i++) {
              const row = {
                id: BigInt(i),
                name: `${phase} ${i}`,
                amount: `${i}.${phase === 'insert' ? '25' : '75'}`,
                ts: '2024-05-06T07:08:09.123456Z',
                flag: i % 2 === 0,
              };
              if (phase === 'insert') x.insert(t, row);
              else x.update(t, row);
            }
          });
          batches.push(log.batch());
        }
        const t0 = performance.now();
        for (const batch of batches) await dest.write(batch);
        const ms = performance.now() - t0;
        console.log(
          `batch ${String(batchSize).padStart(6)} ${phase}: ${total} rows in ${ms.toFixed(0)} ms = ${Math.round(total / (ms / 1000)).toLocaleString('en-US')} rows/s`,
        );
      }
      await dest.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main()
  .then(() => process.stdout.write(rssLine()))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
