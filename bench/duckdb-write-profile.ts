/**
 * Where the DuckDB destination spends a write: times its session calls (load = Appender,
 * executeScript = the apply script, query) for 10 batches of 10k inserts. Run: npx tsx bench/duckdb-write-profile.ts
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { duckdbDestinationKind } from '../src/destinations/duckdb';
import { ChangeLog, destinationContext, table, encodedBatch } from '../test/support/changes';
(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dd-'));
  const config = duckdbDestinationKind.parseConfig({ dsn: join(dir, 'b.duckdb') }, 'd');
  const dest: any = await duckdbDestinationKind.create(config, destinationContext('bench'));
  await dest.open();
  const t = table('public.bench', { id: 'int8', name: 'text', amount: 'numeric(12,2)', ts: 'timestamptz', flag: 'bool' }, { primaryKey: ['id'] });
  const log = new ChangeLog('bench');
  const batches: any[] = [];
  for (let s = 0; s < 100000; s += 10000) { log.tx((x) => { for (let i = s; i < s + 10000; i++) x.insert(t, { id: BigInt(i), name: `n ${i}`, amount: `${i}.25`, ts: '2024-05-06T07:08:09.123456Z', flag: i % 2 === 0 }); }); batches.push(log.batch()); }
  // find session
  const sess = dest.session ?? dest.client ?? dest.writer?.cfg?.session;
  const timers: Record<string, number> = {};
  for (const m of ['load', 'executeScript', 'execute', 'query']) {
    const orig = sess[m].bind(sess);
    sess[m] = async (...a: any[]) => { const t0 = performance.now(); try { return await orig(...a); } finally { timers[m] = (timers[m] ?? 0) + performance.now() - t0; } };
  }
  const t0 = performance.now();
  for (const b of batches) await dest.write(encodedBatch(b));
  const total = performance.now() - t0;
  console.log('total', total.toFixed(0), 'ms', timers);
})();
