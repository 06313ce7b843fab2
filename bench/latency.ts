/**
 * Commit-to-destination latency at fixed rates, per destination, with the raw baseline in the same
 * run. Real pipeline in this process (pgoutput source → DBOS flowRun → destination, checkpoints in
 * Postgres) on a private cluster. For each destination and rate, a fresh flow (its own slot) runs
 * while a writer commits rows at that rate (a transaction every 10 ms, synchronous_commit on);
 * latency per change = when its destination acknowledged the write minus its commit time. A bare
 * pgoutput client on another slot measures the same thing for the raw stream at the same time.
 *
 *   npm run build && node dist/bench/latency.js [--rates 100,1000,10000] [--seconds 5]
 *     [--destinations kafka,pgstream,http,duckdb] [--batch-timeout 1s] [--step-max-ms 2000]
 *
 * `--step-max-ms` sets DUCTSTREAM_STEP_MAX_MS (how long one deliverBatch step runs before the
 * workflow records it and commits the checkpoint): small values show what the step boundary costs.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { Client } from 'pg';
import { openAppState } from '../src/state/open';
import { readServiceEnv } from '../src/config/env';
import { silentLogger } from '../src/core/log';
import '../src/destinations';
import { getCodec } from '../src/wire/registry';
import { launchDbos, shutdownDbos } from '../src/workflows/dbos';
import { flowRun } from '../src/workflows/flowRun';
import { startKafkaBroker, type KafkaBroker } from '../test/support/peers/kafkaBroker';
import { arg, fmt, percentile, printTable, startBenchCluster } from './support';
import { sinkOf, startRawTail, timeDestinationKind, type LatencySink } from './timing';
import { PipelineContext } from '../src/pipeline/context';
import { bindPipelineContext, pipelineContext } from '../src/workflows/context';

const RATES = arg('rates', '100,1000,10000').split(',').map(Number);
const SECONDS = Number(arg('seconds', '5'));
const DESTINATIONS = arg('destinations', 'kafka,pgstream,http,duckdb').split(',');
const BATCH_TIMEOUT = arg('batch-timeout', '1s');
const STEP_MAX_MS = arg('step-max-ms', '2000');
const TICK_MS = 10;

/** The webhook peer of bench/cdc-http.ts, in a child process. */
async function startWebhookPeer(): Promise<{ port: number; stop(): void }> {
  const peer = fork(join(__dirname, 'cdc-http.js'), ['--peer'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => peer.once('message', (m: { port: number }) => resolve(m.port)));
  return { port, stop: () => peer.send('stop') };
}

function summary(s: LatencySink): string[] {
  const lat = [...s.latenciesMs].sort((a, b) => a - b);
  return [fmt(s.rows), fmt(percentile(lat, 50), 1), fmt(percentile(lat, 99), 1), fmt(lat[lat.length - 1] ?? NaN, 1)];
}

async function main(): Promise<void> {
  const bench = await startBenchCluster();
  const dir = mkdtempSync(join(os.tmpdir(), 'bench-latency-'));
  let broker: KafkaBroker | undefined;
  let peer: { port: number; stop(): void } | undefined;
  try {
    const src = await bench.createDatabase('shop');
    const stateDsn = await bench.createDatabase('ductstream');
    const streamDsn = await bench.createDatabase('streams');
    if (DESTINATIONS.includes('kafka')) broker = await startKafkaBroker();
    if (DESTINATIONS.includes('http')) peer = await startWebhookPeer();
    const options: Record<string, (flowId: string) => Record<string, string>> = {
      kafka: (id) => ({ brokers: broker!.bootstrap, topic: `${id}.{table}`, acks: 'all' }),
      pgstream: (id) => ({ dsn: streamDsn, stream: id }),
      http: (id) => ({ url: `http://127.0.0.1:${peer!.port}/${id}`, mode: 'batch' }),
      duckdb: (id) => ({ dsn: join(dir, `${id}.duckdb`) }),
    };
    const db = new Client(src);
    await db.connect();
    await db.query(
      'CREATE TABLE items (id bigint PRIMARY KEY, qty int NOT NULL, name text NOT NULL, price numeric(12,2) NOT NULL, updated_at timestamptz NOT NULL)',
    );
    await db.query('CREATE PUBLICATION bench_pub FOR TABLE items');
    // The bench cluster runs with synchronous_commit=off: the WAL writer would hold commits up to 200 ms.
    await db.query('SET synchronous_commit = on');
    const env = readServiceEnv({ DUCTSTREAM_POSTGRES_DSN: stateDsn, DUCTSTREAM_STEP_MAX_MS: STEP_MAX_MS });
    const state = await openAppState(env);
    bindPipelineContext(new PipelineContext({ env, flows: state.flows, checkpoints: state.checkpoints, codecFor: getCodec, log: silentLogger }));
    for (const d of DESTINATIONS) timeDestinationKind(d);
    await launchDbos({ env, executorId: 'bench-latency', systemDatabaseUrl: env.dbosSystemDatabaseUrl!, log: silentLogger });

    let nextId = 1;
    const results: string[][] = [];
    for (const rate of RATES) {
      for (const dest of DESTINATIONS) {
        const flowId = `lat-${dest}-${rate}`;
        const slot = flowId.replace(/-/g, '_');
        await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
        await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [`${slot}_raw`]);
        await state.flows.create({
          id: flowId,
          name: flowId,
          wire_format: 'json',
          parallelism: 1,
          state: 'running',
          source: {
            name: 'pg',
            type: 'postgres',
            options: { dsn: src, slot, publication: 'bench_pub', batch_timeout: BATCH_TIMEOUT, create_slot: 'false', ensure_publication: 'false' },
          },
          destinations: [{ name: 'dest', type: dest, options: options[dest]!(flowId) }],
        });
        const raw = await startRawTail(src, `${slot}_raw`, 'bench_pub');
        const handle = await DBOS.startWorkflow(flowRun, { workflowID: `${flowId}-run` })(flowId, {
          maxEmptyReads: 0,
          maxStepsPerRun: 1_000_000,
          onBound: 'end',
          chainIndex: 0,
        });
        // Warm-up: one row creates the destination's table, topic or stream; then reset the sinks.
        await db.query(`INSERT INTO items VALUES (${nextId++}, 0, 'warm-up', 0, now())`);
        const sink = sinkOf(flowId);
        while (sink.rows === 0) await new Promise((r) => setTimeout(r, 20));
        sink.latenciesMs.length = 0;
        sink.rows = 0;
        raw.sink.latenciesMs.length = 0;
        raw.sink.rows = 0;

        const perTick = Math.max(1, Math.round((rate * TICK_MS) / 1000));
        const t0 = Date.now();
        let offered = 0;
        for (let tick = 0; Date.now() - t0 < SECONDS * 1000; tick++) {
          await db.query(`INSERT INTO items SELECT g, g % 1000, 'item ' || g, 1.25, now() FROM generate_series(${nextId}, ${nextId + perTick - 1}) g`);
          nextId += perTick;
          offered += perTick;
          const wait = t0 + (tick + 1) * TICK_MS - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        const offeredRate = offered / ((Date.now() - t0) / 1000);
        const deadline = Date.now() + 30_000;
        while ((sink.rows < offered || raw.sink.rows < offered) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        pipelineContext().runtimes.requestStop(flowId);
        await handle.getResult();
        await raw.stop();
        results.push([dest, fmt(offeredRate), ...summary(sink), ...summary(raw.sink).slice(1)]);
        process.stderr.write(`${flowId}: p50 ${results[results.length - 1]![3]} ms, p99 ${results[results.length - 1]![4]} ms\n`);
      }
    }
    await db.end();
    await shutdownDbos();
    await state.close();
    process.stdout.write(
      `\nbench/latency: commit → destination acknowledgement, 5-column rows, json, a transaction every ${TICK_MS} ms, ${SECONDS} s per phase, batch_timeout ${BATCH_TIMEOUT}, step max ${STEP_MAX_MS} ms; raw = a bare pgoutput client on its own slot at the same time; load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${os.cpus().length} CPUs\n`,
    );
    printTable(['destination', 'rows/s', 'rows', 'p50 ms', 'p99 ms', 'max ms', 'raw p50 ms', 'raw p99 ms', 'raw max ms'], results);
  } finally {
    peer?.stop();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
    await bench.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
