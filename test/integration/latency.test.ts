/**
 * Latency at low rates: one change committed on an idle flow reaches every destination (Kafka,
 * pgstream, HTTP, DuckDB) well before `batch_timeout`, because the source hands a partial batch
 * over as soon as the stream has caught up instead of waiting for the timer. Real pipeline in this
 * process: pgoutput source → DBOS `flowRun` → the four destinations; each is read back (kcat, the
 * stream's events table, the webhook peer's requests, the DuckDB table). The bound is generous:
 * this is not a benchmark (bench/latency.ts is), it fails when the timer sets the latency.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { Client } from 'pg';
import { openAppState, type AppState } from '../../src/state/open';
import { readServiceEnv } from '../../src/config/env';
import { silentLogger } from '../../src/core/log';
import '../../src/destinations';
import { openDuckdb } from '../../src/destinations/duckdb/client';
import { getCodec } from '../../src/wire/registry';
import { launchDbos, shutdownDbos } from '../../src/workflows/dbos';
import { flowRun } from '../../src/workflows/flowRun';
import { startHttpPeer, type HttpPeer } from '../support/peers/httpPeer';
import { startKafkaBroker, type KafkaBroker } from '../support/peers/kafkaBroker';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { PipelineContext } from '../../src/pipeline/context';
import { bindPipelineContext, pipelineContext } from '../../src/workflows/context';

const BATCH_TIMEOUT_MS = 5000;
/** Far below batch_timeout, far above the few milliseconds it takes (reading back included). */
const BOUND_MS = 2000;
const FLOW = 'latency-flow';

let source: TestDatabase;
let state: TestDatabase;
let streams: TestDatabase;
let broker: KafkaBroker;
let peer: HttpPeer;
let app: AppState;
let dir: string;
let writer: Client;

beforeAll(async () => {
  source = await createTestDatabase('latency_src');
  state = await createTestDatabase('latency_state');
  streams = await createTestDatabase('latency_streams');
  broker = await startKafkaBroker();
  peer = await startHttpPeer();
  dir = mkdtempSync(join(tmpdir(), 'ductstream-latency-'));
  await source.query('CREATE TABLE public.items (id bigint PRIMARY KEY, name text NOT NULL)');
  // The test cluster runs with synchronous_commit off: the WAL writer would hold each commit up to 200 ms.
  writer = new Client(source.dsn);
  await writer.connect();
  await writer.query('SET synchronous_commit = on');
});

afterAll(async () => {
  await writer?.end();
  await shutdownDbos();
  await app?.close();
  await peer?.close();
  await broker?.stop();
  await source?.drop();
  await streams?.drop();
  await state?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface TopicTail {
  /** Every record value read so far, as text. */
  values(): string[];
  stop(): void;
}

/** A kcat consumer of `topic` that stays connected (fetches wait at most 10 ms), from its beginning; resolves once it reads. */
async function tailTopic(bootstrap: string, topic: string): Promise<TopicTail> {
  const child = spawn('kcat', ['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-u', '-q', '-X', 'fetch.wait.max.ms=10', '-f', '%s\\n'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString()));
  await arrival(Date.now(), 'kcat consumer', async () => text.length > 0);
  return { values: () => text.split('\n').filter((l) => l !== ''), stop: () => child.kill() };
}

/** Polls `probe` until it is true; returns the milliseconds since `since` when it was. */
async function arrival(since: number, what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<number> {
  for (;;) {
    if (await probe()) return Date.now() - since;
    if (Date.now() - since > timeoutMs) throw new Error(`${what}: the change did not arrive in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

it('a single change reaches Kafka, pgstream, HTTP and DuckDB long before batch_timeout', async () => {
  const env = readServiceEnv({ DUCTSTREAM_POSTGRES_DSN: state.dsn });
  app = await openAppState(env);
  bindPipelineContext(new PipelineContext({ env, flows: app.flows, checkpoints: app.checkpoints, codecFor: getCodec, log: silentLogger }));
  const duckFile = join(dir, 'latency.duckdb');
  await app.flows.create({
    id: FLOW,
    name: FLOW,
    wire_format: 'json',
    parallelism: 4,
    state: 'running',
    source: {
      name: 'pg',
      type: 'postgres',
      options: {
        dsn: source.dsn,
        slot: 'latency_slot',
        publication: 'latency_pub',
        publication_tables: 'public.items',
        batch_timeout: `${BATCH_TIMEOUT_MS}ms`,
      },
    },
    destinations: [
      { name: 'kafka', type: 'kafka', options: { brokers: broker.bootstrap, topic: 'latency.{table}', acks: 'all' } },
      { name: 'stream', type: 'pgstream', options: { dsn: streams.dsn, stream: 'latency' } },
      { name: 'hook', type: 'http', options: { url: `${peer.url}/hook` } },
      { name: 'duck', type: 'duckdb', options: { dsn: duckFile } },
    ],
  });
  await launchDbos({ env, executorId: 'latency-test', systemDatabaseUrl: env.dbosSystemDatabaseUrl!, log: silentLogger });
  const run = await DBOS.startWorkflow(flowRun, { workflowID: `${FLOW}-run` })(FLOW, {
    maxEmptyReads: 0,
    maxStepsPerRun: 100_000,
    onBound: 'end',
    chainIndex: 0,
  });

  // Read-back probes: has the row with this id arrived?
  const duck = await openDuckdb(duckFile, 'dsn');
  let tail: TopicTail | undefined;
  const probes = {
    kafka: async (id: number) => {
      if (!tail) return (await broker.readTopic('latency.items')).some((r) => JSON.parse(r.value!.toString()).after?.id === String(id));
      return tail.values().some((v) => JSON.parse(v).after?.id === String(id));
    },
    pgstream: async (id: number) =>
      (await streams.query(`SELECT 1 FROM ductstream_stream.events WHERE key->>'id' = $1`, [String(id)]).catch(() => [])).length > 0,
    http: async (id: number) => peer.delivered('/hook').some((r) => JSON.parse(r.body.toString()).after?.id === String(id)),
    duckdb: async (id: number) =>
      (await duck.connection.runAndReadAll(`SELECT id FROM public.items WHERE id = ${id}`).catch(() => undefined))?.getRows().length === 1,
  };
  try {
    // The run creates the slot and starts streaming; changes committed before its slot exists are not in it.
    await arrival(
      Date.now(),
      'replication',
      async () => (await source.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = 'latency_slot' AND active`)).length > 0,
    );
    // Warm-up: the first change also creates the stream, topic and table; it may take longer.
    await writer.query(`INSERT INTO public.items VALUES (1, 'warm-up')`);
    for (const [name, probe] of Object.entries(probes)) await arrival(Date.now(), name, () => probe(1), 60_000);
    // From now on a consumer that stays connected reads Kafka (a kcat run per probe takes ~0.5 s).
    tail = await tailTopic(broker.bootstrap, 'latency.items');

    // The flow is idle now (caught up, waiting on a 5 s timer): one change.
    const committed = Date.now();
    await writer.query(`INSERT INTO public.items VALUES (2, 'one change')`);
    const took = Object.fromEntries(
      await Promise.all(Object.entries(probes).map(async ([name, probe]) => [name, await arrival(committed, name, () => probe(2))] as const)),
    );
    // Destinations slower than the bound, with their milliseconds (none).
    expect(Object.entries(took).filter(([, ms]) => ms >= BOUND_MS)).toEqual([]);
    expect(Object.keys(took).sort()).toEqual(['duckdb', 'http', 'kafka', 'pgstream']);
  } finally {
    tail?.stop();
    duck.close();
    pipelineContext().runtimes.requestStop(FLOW);
    await run.getResult().catch(() => undefined);
    await pipelineContext().runtimes.releaseAll();
  }
});
