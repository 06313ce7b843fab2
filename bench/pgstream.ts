/**
 * pgstream throughput on a private PostgreSQL:
 * 1. flow → stream: N inserted rows streamed through the real pipeline (pgoutput source → DBOS
 *    flowRun → pgstream destination, checkpoints in Postgres) into a stream in another database,
 *    at several batch sizes and wire formats; the raw pgoutput drain of the same rows is the baseline.
 * 2. consumers: a stream of P events drained by 1, 4 and 16 concurrent consumers of one group
 *    (each its own connection), every event pulled (lease) and acked; events/s per group.
 *
 *   npm run build && node dist/bench/pgstream.js [--rows 200000] [--batch-sizes 1000,10000]
 *     [--formats json,proto] [--pull-events 50000] [--pull-max 10,100] [--consumers 1,4,16]
 */
import { DBOS } from '@dbos-inc/dbos-sdk';
import { openAppState } from '../src/state/open';
import { readServiceEnv } from '../src/config/env';
import { silentLogger } from '../src/core/log';
import '../src/destinations';
import { pgstreamDestinationKind } from '../src/destinations/pgstream';
import type { PgstreamDestination } from '../src/destinations/pgstream/destination';
import { toEncodedBatch } from '../src/pipeline/encodedBatch';
import { StreamService } from '../src/services/streams';
import { measureRawDrain } from '../tools/rawDrain';
import type { WireFormat } from '../src/wire/codec';
import { getCodec, parseWireFormat } from '../src/wire/registry';
import { launchDbos, shutdownDbos } from '../src/workflows/dbos';
import { flowRun } from '../src/workflows/flowRun';
import { ChangeLog, table } from '../test/support/changes';
import { arg, createItemsTable, fmt, printTable, startBenchCluster, writeItems } from './support';
import { PipelineContext } from '../src/pipeline/context';
import { bindPipelineContext, pipelineContext } from '../src/workflows/context';

const ROWS = Number(arg('rows', '200000'));
const BATCH_SIZES = arg('batch-sizes', '1000,10000').split(',').map(Number);
const FORMATS = arg('formats', 'json,proto')
  .split(',')
  .map((f) => parseWireFormat(f, '--formats'));
const PULL_EVENTS = Number(arg('pull-events', '50000'));
const PULL_MAX = arg('pull-max', '10,100').split(',').map(Number);
const CONSUMERS = arg('consumers', '1,4,16').split(',').map(Number);

async function main(): Promise<void> {
  const bench = await startBenchCluster();
  try {
    const src = await bench.createDatabase('shop');
    const stateDsn = await bench.createDatabase('ductstream');
    const streamDsn = await bench.createDatabase('streams');
    const flowResults = await flowToStream(src, stateDsn, streamDsn);
    const pullResults = await consumers(streamDsn);
    process.stdout.write(`\nbench/pgstream (1): ${fmt(ROWS)} inserted rows, 5 columns, flow → pgstream in another database, checkpoints in Postgres\n`);
    printTable(['format', 'batch_size', 'rows', 'seconds', 'rows/s', 'raw drain rows/s', 'ratio', 'process CPU µs/row'], flowResults);
    process.stdout.write(`\nbench/pgstream (2): ${fmt(PULL_EVENTS)} events drained by one consumer group (pull with a 60 s lease, then ack)\n`);
    printTable(['consumers', 'max per pull', 'events', 'seconds', 'events/s (pull+ack)', 'pulls', 'empty pulls'], pullResults);
  } finally {
    await bench.stop();
  }
}

async function flowToStream(src: string, stateDsn: string, streamDsn: string): Promise<string[][]> {
  const { Client } = await import('pg');
  const db = new Client(src);
  await db.connect();
  await createItemsTable(db);
  await db.query('CREATE PUBLICATION bench_pub FOR TABLE items');
  await db.query(`SELECT pg_create_logical_replication_slot('raw_slot', 'pgoutput')`);
  const flows: Array<{ id: string; format: WireFormat; batch: number }> = [];
  for (const format of FORMATS) for (const batch of BATCH_SIZES) flows.push({ id: `bench-${format}-${batch}`, format, batch });
  for (const f of flows) await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [`${f.id.replace(/-/g, '_')}_slot`]);

  const env = readServiceEnv({ DUCTSTREAM_POSTGRES_DSN: stateDsn, DUCTSTREAM_MAX_WRITE_ROWS: arg('max-write-rows', '10000') });
  const state = await openAppState(env);
  bindPipelineContext(new PipelineContext({ env, flows: state.flows, checkpoints: state.checkpoints, codecFor: getCodec, log: silentLogger }));
  for (const f of flows) {
    await state.flows.create({
      id: f.id,
      name: f.id,
      wire_format: f.format,
      parallelism: 1,
      state: 'running',
      source: {
        name: 'pg',
        type: 'postgres',
        options: {
          dsn: src,
          slot: `${f.id.replace(/-/g, '_')}_slot`,
          publication: 'bench_pub',
          batch_size: String(f.batch),
          batch_timeout: '100ms',
          create_slot: 'false',
          ensure_publication: 'false',
        },
      },
      destinations: [{ name: 'events', type: 'pgstream', options: { dsn: streamDsn, stream: f.id } }],
    });
  }
  await launchDbos({ env, executorId: 'bench-pgstream', systemDatabaseUrl: env.dbosSystemDatabaseUrl!, log: silentLogger });

  process.stderr.write(`writing ${fmt(ROWS)} rows...\n`);
  await writeItems(db, 'insert', ROWS);
  const raw = await measureRawDrain({ dsn: src, slot: 'raw_slot', publication: 'bench_pub' });
  process.stderr.write(`raw drain ${fmt(raw.rowsPerSecond)} rows/s\n`);
  const results: string[][] = [];
  for (const f of flows) {
    const p = pipelineContext().progress.of(f.id);
    const started = Date.now();
    const cpu0 = process.cpuUsage();
    let doneAt = 0;
    const watcher = setInterval(() => {
      if (!doneAt && p.rows >= ROWS) doneAt = Date.now();
    }, 5);
    const handle = await DBOS.startWorkflow(flowRun, { workflowID: `bench-${f.id}` })(f.id, {
      maxEmptyReads: 1,
      maxStepsPerRun: 100_000,
      onBound: 'end',
      chainIndex: 0,
    });
    await handle.getResult();
    clearInterval(watcher);
    if (!doneAt) doneAt = Date.now();
    const cpu = process.cpuUsage(cpu0);
    const secs = (doneAt - started) / 1000;
    const rate = p.rows / secs;
    results.push([
      f.format,
      String(f.batch),
      fmt(p.rows),
      fmt(secs, 2),
      fmt(rate),
      fmt(raw.rowsPerSecond),
      fmt(rate / raw.rowsPerSecond, 2) + 'x',
      fmt((cpu.user + cpu.system) / p.rows, 2),
    ]);
    process.stderr.write(`${f.id}: ${fmt(rate)} rows/s\n`);
  }
  await db.end();
  await shutdownDbos();
  await state.close();
  return results;
}

async function consumers(streamDsn: string): Promise<string[][]> {
  const config = pgstreamDestinationKind.parseConfig({ dsn: streamDsn, stream: 'pullbench' }, 'options');
  const dest = (await pgstreamDestinationKind.create(config, {
    flowId: 'bench',
    name: 'pullbench',
    wireFormat: 'json',
    parallelism: 1,
    log: silentLogger,
  })) as PgstreamDestination;
  await dest.open();
  const items = table('public.items', { id: 'int8', qty: 'int4', name: 'text' }, { primaryKey: ['id'] });
  const log = new ChangeLog('bench');
  for (let lo = 0; lo < PULL_EVENTS; lo += 5000) {
    log.tx((t) => {
      for (let i = lo; i < Math.min(PULL_EVENTS, lo + 5000); i++) t.insert(items, { id: BigInt(i), qty: i % 100, name: `item ${i}` });
    });
    await dest.write(toEncodedBatch(log.batch(), (f) => getCodec(f)));
  }
  await dest.close();
  const results: string[][] = [];
  for (const max of PULL_MAX) {
    for (const n of CONSUMERS) {
      const group = `g_${n}_${max}`;
      const services = Array.from({ length: n }, () => new StreamService({ dsn: streamDsn, poolMax: 1 }));
      let events = 0;
      let pulls = 0;
      let empty = 0;
      const started = performance.now();
      await Promise.all(
        services.map(async (s, i) => {
          let idle = 0;
          while (idle < 2) {
            const { messages } = await s.pull({ stream: 'pullbench', group, maxMessages: max, visibilitySeconds: 60, consumerId: `c${i}` });
            pulls++;
            if (messages.length === 0) {
              idle++;
              empty++;
              continue;
            }
            idle = 0;
            const r = await s.ack({ stream: 'pullbench', group, ids: messages.map((m) => m.id) });
            events += r.acked.length;
          }
        }),
      );
      const secs = (performance.now() - started) / 1000;
      await Promise.all(services.map((s) => s.close()));
      if (events !== PULL_EVENTS) throw new Error(`group ${group} acked ${events} of ${PULL_EVENTS} events`);
      results.push([String(n), String(max), fmt(events), fmt(secs, 2), fmt(events / secs), fmt(pulls), fmt(empty)]);
      process.stderr.write(`${n} consumers, max ${max}: ${fmt(events / secs)} events/s\n`);
    }
  }
  return results;
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
