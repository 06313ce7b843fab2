/**
 * The end-to-end benchmark of an event destination (kafka, http), shared by bench/cdc-kafka.ts and
 * bench/cdc-http.ts. Real pipeline in this process: pgoutput source → DBOS flowRun workflow →
 * destination, checkpoints in Postgres, on a private cluster. Three phases, each with its own flow
 * and slot:
 *
 * 1. backlog: N rows inserted first, then drained; rows/s from the workflow's start to the last
 *    acknowledged write. The raw pgoutput drain of the same rows (another slot) is the baseline.
 * 2. steady 1k rows/s: 50-row transactions every 50 ms while the flow runs; commit-to-destination
 *    latency per change = the time its write was acknowledged by the destination (durable there)
 *    minus its commit time in the WAL (same machine clock).
 * 3. saturation: 1,000-row transactions inserted as fast as the pipeline delivers them, keeping at
 *    most `--window` rows (default 5,000) committed but undelivered: delivered rows/s is the pipeline's
 *    capacity, and the latency is the one at that load (a bounded queue included).
 *
 * Latency is taken by wrapping the destination kind (a decorator: the destination is unchanged).
 */
import os from 'node:os';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { Client } from 'pg';
import { openAppState } from '../src/state/open';
import { readServiceEnv } from '../src/config/env';
import { silentLogger } from '../src/core/log';
import '../src/destinations';
import { measureRawDrain } from '../tools/rawDrain';
import type { WireFormat } from '../src/wire/codec';
import { getCodec } from '../src/wire/registry';
import { launchDbos, shutdownDbos } from '../src/workflows/dbos';
import { flowRun } from '../src/workflows/flowRun';
import { arg, createItemsTable, fmt, percentile, printTable, startBenchCluster, writeItems } from './support';
import { sinkOf, timeDestinationKind } from './timing';
import { PipelineContext } from '../src/pipeline/context';
import { bindPipelineContext } from '../src/workflows/context';

export interface EventBenchSpec {
  /** Shown in the result title. */
  title: string;
  /** Destination type: `kafka`, `http`, ... */
  type: string;
  options(flowId: string): Record<string, string>;
  wireFormat: WireFormat;
  parallelism: number;
}

const ROWS = Number(arg('rows', '200000'));
const SECONDS = Number(arg('seconds', '10'));
const BATCH_SIZE = arg('batch-size', '1000');
const BATCH_TIMEOUT = arg('batch-timeout', '100ms');
/** Saturation phase: rows committed but not yet delivered, at most (the generator waits beyond it). */
const WINDOW = Number(arg('window', '5000'));

export async function runEventBench(spec: EventBenchSpec): Promise<void> {
  timeDestinationKind(spec.type);
  const bench = await startBenchCluster();
  try {
    const src = await bench.createDatabase('shop');
    const stateDsn = await bench.createDatabase('ductstream');
    const db = new Client(src);
    await db.connect();
    await createItemsTable(db);
    await db.query('CREATE PUBLICATION bench_pub FOR TABLE items');
    // The bench cluster runs with synchronous_commit=off; commits of this session are flushed at once,
    // so that the WAL sender sees them without waiting for the WAL writer (wal_writer_delay, 200 ms).
    await db.query('SET synchronous_commit = on');
    const env = readServiceEnv({ DUCTSTREAM_POSTGRES_DSN: stateDsn });
    const state = await openAppState(env);
    bindPipelineContext(new PipelineContext({ env, flows: state.flows, checkpoints: state.checkpoints, codecFor: getCodec, log: silentLogger }));
    await launchDbos({ env, executorId: `bench-cdc-${spec.type}`, systemDatabaseUrl: env.dbosSystemDatabaseUrl!, log: silentLogger });

    /** Creates the phase's slot (it starts at the current WAL end) and its flow. */
    const newFlow = async (phase: string): Promise<string> => {
      const id = `bench-${phase}`;
      await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [`${phase}_slot`]);
      await state.flows.create({
        id,
        name: id,
        wire_format: spec.wireFormat,
        parallelism: spec.parallelism,
        state: 'running',
        source: {
          name: 'pg',
          type: 'postgres',
          options: {
            dsn: src,
            slot: `${phase}_slot`,
            publication: 'bench_pub',
            batch_size: BATCH_SIZE,
            batch_timeout: BATCH_TIMEOUT,
            create_slot: 'false',
            ensure_publication: 'false',
          },
        },
        destinations: [{ name: 'dest', type: spec.type, options: spec.options(id) }],
      });
      return id;
    };
    const run = (flowId: string, maxEmptyReads: number) =>
      DBOS.startWorkflow(flowRun, { workflowID: `${flowId}-run` })(flowId, { maxEmptyReads, maxStepsPerRun: 100_000, onBound: 'end', chainIndex: 0 });
    let nextId = 1;
    const results: string[][] = [];

    // 1. backlog
    await db.query(`SELECT pg_create_logical_replication_slot('raw_slot', 'pgoutput')`);
    const backlog = await newFlow('backlog');
    process.stderr.write(`backlog: writing ${fmt(ROWS)} rows...\n`);
    await writeItems(db, 'insert', ROWS);
    nextId = ROWS + 1;
    const raw = await measureRawDrain({ dsn: src, slot: 'raw_slot', publication: 'bench_pub' });
    process.stderr.write(`backlog: raw drain ${fmt(raw.rowsPerSecond)} rows/s\n`);
    const started = Date.now();
    const cpu0 = process.cpuUsage();
    await (await run(backlog, 1)).getResult();
    const cpu = process.cpuUsage(cpu0);
    const b = sinkOf(backlog);
    const backlogRate = b.rows / ((b.lastAckAt - started) / 1000);
    results.push([
      'backlog drain',
      '-',
      fmt(backlogRate),
      '-',
      '-',
      '-',
      fmt(raw.rowsPerSecond),
      fmt(backlogRate / raw.rowsPerSecond, 2) + 'x',
      fmt((cpu.user + cpu.system) / b.rows, 1),
    ]);
    process.stderr.write(`backlog: ${fmt(backlogRate)} rows/s\n`);

    // 2. steady 1k rows/s, 3. saturation
    for (const phase of ['steady', 'saturation'] as const) {
      const flowId = await newFlow(phase);
      const handle = await run(flowId, 5);
      const t0 = Date.now();
      let offered = 0;
      if (phase === 'steady') {
        for (let tick = 0; Date.now() - t0 < SECONDS * 1000; tick++) {
          await db.query(`INSERT INTO items SELECT g, g % 1000, 'item ' || g, 1.25, now() FROM generate_series(${nextId}, ${nextId + 49}) g`);
          nextId += 50;
          offered += 50;
          const wait = t0 + (tick + 1) * 50 - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
      } else {
        // Closed loop: as fast as the pipeline delivers, with at most WINDOW rows committed but not yet delivered.
        const sink = sinkOf(flowId);
        while (Date.now() - t0 < SECONDS * 1000) {
          if (offered - sink.rows >= WINDOW) {
            await new Promise((r) => setTimeout(r, 2));
            continue;
          }
          await db.query(`INSERT INTO items SELECT g, g % 1000, 'item ' || g, 2.50, now() FROM generate_series(${nextId}, ${nextId + 999}) g`);
          nextId += 1000;
          offered += 1000;
        }
      }
      const offeredRate = offered / ((Date.now() - t0) / 1000);
      await handle.getResult();
      const s = sinkOf(flowId);
      const lat = [...s.latenciesMs].sort((x, y) => x - y);
      const delivered = s.rows / ((s.lastAckAt - t0) / 1000);
      results.push([
        phase === 'steady' ? 'steady 1k rows/s' : 'saturation (live)',
        fmt(offeredRate),
        fmt(delivered),
        fmt(percentile(lat, 50), 1),
        fmt(percentile(lat, 99), 1),
        fmt(lat[lat.length - 1] ?? NaN, 1),
        '-',
        '-',
        '-',
      ]);
      process.stderr.write(`${phase}: ${fmt(delivered)} rows/s, p50 ${fmt(percentile(lat, 50), 1)} ms, p99 ${fmt(percentile(lat, 99), 1)} ms\n`);
    }
    await db.end();
    await shutdownDbos();
    await state.close();
    process.stdout.write(
      `\n${spec.title}: 5-column rows, ${spec.wireFormat}, flow parallelism ${spec.parallelism}, batch_size ${BATCH_SIZE}, batch_timeout ${BATCH_TIMEOUT}, saturation window ${fmt(WINDOW)} rows, checkpoints in Postgres; load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${os.cpus().length} CPUs\n`,
    );
    printTable(['phase', 'offered rows/s', 'delivered rows/s', 'p50 ms', 'p99 ms', 'max ms', 'raw drain rows/s', 'ratio', 'process CPU µs/row'], results);
  } finally {
    await bench.stop();
  }
}
