/**
 * Snowflake destination against the Snowflake STAND-IN (test/support/peers/snowflake: DuckDB behind
 * Snowflake's REST protocol, reached through the real snowflake-sdk). The stand-in is NOT Snowflake:
 * its rows/s say how much CPU the destination and driver spend per row, not how fast Snowflake is.
 * What carries over to the real service: statements sent and bytes uploaded per 10,000 changes.
 * 5-column table; phases of inserts, updates (every 3rd row also deleted) in batches of 500 and 10,000.
 *
 *   npx tsx bench/cdc-snowflake.ts [rowsPerPhase=20000]
 */
import '../src/destinations';
import { getDestinationKind } from '../src/destinations/registry';
import type { SnowflakeDestination } from '../src/destinations/snowflake/destination';
import { ChangeLog, destinationContext, table } from '../test/support/changes';
import { SnowflakeStandIn } from '../test/support/peers/snowflake/standIn';
import { rssLine } from './support';

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 20_000);
  const standIn = await SnowflakeStandIn.start();
  try {
    for (const batchSize of [500, 10_000]) {
      const kind = getDestinationKind('snowflake', 'destinations[0].type');
      const config = kind.parseConfig({ dsn: standIn.dsn(), schema: `bench_${batchSize}` }, 'destinations[0].options');
      const dest = (await kind.create(config, destinationContext(`bench-${batchSize}`))) as SnowflakeDestination;
      await dest.open();
      const t = table('public.bench', { id: 'int8', name: 'text', amount: 'numeric(12,2)', ts: 'timestamptz', flag: 'bool' }, { primaryKey: ['id'] });
      const log = new ChangeLog('bench');
      for (const phase of ['insert', 'update+delete'] as const) {
        const batches = [];
        let changes = 0;
        for (let start = 0; start < total; start += batchSize) {
          log.tx((x) => {
            for (let i = start; i < start + batchSize; i++) {
              const row = { id: BigInt(i), name: `${phase} ${i}`, amount: `${i}.25`, ts: '2024-05-06T07:08:09.123456Z', flag: i % 2 === 0 };
              if (phase === 'insert') x.insert(t, row);
              else if (i % 3 === 0) x.delete(t, { id: BigInt(i) });
              else x.update(t, row);
              changes++;
            }
          });
          batches.push(log.batch());
        }
        const before = dest.stats;
        const t0 = performance.now();
        for (const batch of batches) await dest.write(batch);
        const ms = performance.now() - t0;
        const after = dest.stats;
        const per10k = (n: number): string => ((n * 10_000) / changes).toFixed(1);
        console.log(
          `stand-in, batch ${String(batchSize).padStart(6)} ${phase.padEnd(13)}: ${changes} changes in ${ms.toFixed(0)} ms = ${Math.round(changes / (ms / 1000)).toLocaleString('en-US')} rows/s; ` +
            `per 10,000 changes: ${per10k(after.statements - before.statements)} statements, ${per10k(after.uploadedBytes - before.uploadedBytes)} bytes uploaded ` +
            `(${after.boundLoads - before.boundLoads} bound / ${after.stagedLoads - before.stagedLoads} staged loads)`,
        );
      }
      await dest.close();
    }
  } finally {
    await standIn.stop();
  }
}

main()
  .then(() => process.stdout.write(rssLine()))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
