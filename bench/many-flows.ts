/**
 * Many flows in one process: N flows (default 50), each streaming its own table at a fixed rate
 * (default 100 rows/s) into an HTTP webhook (`mode=batch`, the peer of bench/cdc-http.ts in a child
 * process), each run as a DBOS flowRun workflow in this process, as a server runs them. Reports
 * commit → acknowledgement latency over all flows, process CPU per row, peak RSS, the connections
 * the flows hold on the source cluster and the timers this process has pending.
 *
 *   npm run build && node dist/bench/many-flows.js [--flows 50] [--rate 100] [--seconds 20] [--batch-timeout 1s]
 */
import { fork } from 'node:child_process';
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
import { arg, fmt, percentile, printTable, startBenchCluster } from './support';
import { sinkOf, timeDestinationKind } from './timing';
import { PipelineContext } from '../src/pipeline/context';
import { bindPipelineContext, pipelineContext } from '../src/workflows/context';

const FLOWS = Number(arg('flows', '50'));
const RATE = Number(arg('rate', '100'));
const SECONDS = Number(arg('seconds', '20'));
const BATCH_TIMEOUT = arg('batch-timeout', '1s');
const TICK_MS = 100;
const WRITERS = 4;

async function main(): Promise<void> {
  const bench = await startBenchCluster();
  const peer = fork(join(__dirname, 'cdc-http.js'), ['--peer'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => peer.once('message', (m: { port: number }) => resolve(m.port)));
  try {
    const src = await bench.createDatabase('shop');
    const stateDsn = await bench.createDatabase('ductstream');
    const writers = await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        const c = new Client(src);
        await c.connect();
        await c.query('SET synchronous_commit = on');
        return c;
      }),
    );
    const db = writers[0]!;
    const env = readServiceEnv({ DUCTSTREAM_POSTGRES_DSN: stateDsn });
    const state = await openAppState(env);
    bindPipelineContext(new PipelineContext({ env, flows: state.flows, checkpoints: state.checkpoints, codecFor: getCodec, log: silentLogger }));
    timeDestinationKind('http');
    const ids: string[] = [];
    for (let i = 0; i < FLOWS; i++) {
      const id = `f${i}`;
      ids.push(id);
      await db.query(`CREATE TABLE t${i} (id bigint PRIMARY KEY, qty int NOT NULL, name text NOT NULL, updated_at timestamptz NOT NULL)`);
      await db.query(`CREATE PUBLICATION p${i} FOR TABLE t${i}`);
      await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [`s${i}`]);
      await state.flows.create({
        id,
        name: id,
        wire_format: 'json',
        parallelism: 1,
        state: 'running',
        source: {
          name: 'pg',
          type: 'postgres',
          options: { dsn: src, slot: `s${i}`, publication: `p${i}`, batch_timeout: BATCH_TIMEOUT, create_slot: 'false', ensure_publication: 'false' },
        },
        destinations: [{ name: 'hook', type: 'http', options: { url: `http://127.0.0.1:${port}/${id}`, mode: 'batch' } }],
      });
    }
    await launchDbos({ env, executorId: 'bench-many-flows', systemDatabaseUrl: env.dbosSystemDatabaseUrl!, log: silentLogger });
    const handles = await Promise.all(
      ids.map((id) =>
        DBOS.startWorkflow(flowRun, { workflowID: `${id}-run` })(id, { maxEmptyReads: 0, maxStepsPerRun: 1_000_000, onBound: 'end', chainIndex: 0 }),
      ),
    );
    // Warm-up: one row per flow, then reset the sinks.
    for (let i = 0; i < FLOWS; i++) await db.query(`INSERT INTO t${i} VALUES (0, 0, 'warm-up', now())`);
    while (ids.some((id) => sinkOf(id).rows === 0)) await new Promise((r) => setTimeout(r, 50));
    for (const id of ids) Object.assign(sinkOf(id), { latenciesMs: [], rows: 0 });

    const perTick = Math.max(1, Math.round((RATE * TICK_MS) / 1000));
    const t0 = Date.now();
    const cpu0 = process.cpuUsage();
    let offered = 0;
    let nextId = 1;
    let timersSeen = 0;
    for (let tick = 0; Date.now() - t0 < SECONDS * 1000; tick++) {
      const lo = nextId;
      nextId += perTick;
      // Spread over the writers, one round trip each: a multi-statement query is one transaction
      // holding, for each of its flows, one INSERT of perTick rows.
      await Promise.all(
        writers.map(async (w, k) => {
          const sql: string[] = [];
          for (let i = k; i < FLOWS; i += WRITERS)
            sql.push(`INSERT INTO t${i} SELECT g, g % 100, 'item ' || g, now() FROM generate_series(${lo}, ${lo + perTick - 1}) g`);
          if (sql.length > 0) await w.query(sql.join(';\n'));
        }),
      );
      offered += perTick * FLOWS;
      timersSeen = Math.max(timersSeen, process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length);
      const wait = t0 + (tick + 1) * TICK_MS - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const elapsed = (Date.now() - t0) / 1000;
    const deadline = Date.now() + 60_000;
    const delivered = () => ids.reduce((n, id) => n + sinkOf(id).rows, 0);
    while (delivered() < offered && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const cpu = process.cpuUsage(cpu0);
    const { rows: conns } = await bench.admin.query<{ app: string; n: string }>(
      `SELECT coalesce(nullif(application_name, ''), backend_type) AS app, count(*) AS n FROM pg_stat_activity
       WHERE datname = 'shop' AND application_name LIKE 'ductstream%' GROUP BY 1`,
    );
    const flowConns = conns.reduce((n, r) => n + Number(r.n), 0);
    const lat = ids.flatMap((id) => sinkOf(id).latenciesMs).sort((a, b) => a - b);
    for (const id of ids) pipelineContext().runtimes.requestStop(id);
    await Promise.all(handles.map((h) => h.getResult()));
    for (const w of writers) await w.end();
    await shutdownDbos();
    await state.close();
    process.stdout.write(
      `\nbench/many-flows: ${FLOWS} flows in one process, ${fmt(RATE)} rows/s each (every ${TICK_MS} ms, ${WRITERS} writer transactions spanning all tables), http mode=batch, ${SECONDS} s, batch_timeout ${BATCH_TIMEOUT}; load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${os.cpus().length} CPUs\n`,
    );
    printTable(
      ['flows', 'offered rows/s', 'delivered', 'p50 ms', 'p99 ms', 'max ms', 'process CPU µs/row', 'source connections per flow', 'pending timers (max)'],
      [
        [
          String(FLOWS),
          fmt(offered / elapsed),
          fmt(delivered()),
          fmt(percentile(lat, 50), 1),
          fmt(percentile(lat, 99), 1),
          fmt(lat[lat.length - 1] ?? NaN, 1),
          fmt((cpu.user + cpu.system) / Math.max(1, delivered()), 1),
          fmt(flowConns / FLOWS, 1),
          String(timersSeen),
        ],
      ],
    );
  } finally {
    peer.send('stop');
    await bench.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
