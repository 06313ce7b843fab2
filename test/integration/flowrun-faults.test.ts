/**
 * The run loop under destination faults, in process: a real PostgreSQL source, the DBOS `flowRun`
 * workflow with its steps and retries, checkpoints in a real state database, and the fault-injecting
 * `faulty` table destination (test/support/faultyDestination.ts). Each scenario commits a backlog
 * (a 300-row transaction cut across batches, single-row updates, a mass delete, more inserts), runs
 * the flow until it is caught up, and reads back the destination's rows and the checkpoint: the rows
 * equal the source's, every change was delivered, the checkpoint reached the end of the WAL and never
 * moved back, and the fault really happened.
 */
import { DBOS } from '@dbos-inc/dbos-sdk';
import { openAppState, type AppState } from '../../src/state/open';
import type { CheckpointStore } from '../../src/state/checkpoint/store';
import { readServiceEnv, type ServiceEnv } from '../../src/config/env';
import { silentLogger } from '../../src/core/log';
import { parseLsn, type Lsn } from '../../src/core/lsn';
import '../../src/destinations';
import { getCodec } from '../../src/wire/registry';
import { launchDbos, shutdownDbos } from '../../src/workflows/dbos';
import { flowRun, type FlowRunResult } from '../../src/workflows/flowRun';
import { deliveredPositions, registerFaultyDestination, sinkOf, sinkRows, type Sink } from '../support/faultyDestination';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import type { Batch } from '../../src/core/change';
import { PostgresSource } from '../../src/source/postgres/source';
import { currentWalEnd } from '../../src/source/postgres/walPosition';
import type { Source, SourceStats } from '../../src/source/source';
import { PipelineContext } from '../../src/pipeline/context';
import { bindPipelineContext, pipelineContext } from '../../src/workflows/context';

jest.setTimeout(180_000);

/** Changes the backlog makes: 300 inserts, 30 updates, 30 deletes, 100 inserts. */
const BACKLOG_CHANGES = 460;

let source: TestDatabase;
let stateDb: TestDatabase;
let env: ServiceEnv;
let state: AppState;
/** Every checkpoint commit of the runs, in order, as the store returned it. */
const commits: Array<{ flowId: string; lsn: Lsn }> = [];

beforeAll(async () => {
  source = await createTestDatabase('faults_src');
  stateDb = await createTestDatabase('faults_state');
  env = readServiceEnv({
    DUCTSTREAM_POSTGRES_DSN: stateDb.dsn,
    DUCTSTREAM_MAX_WRITE_ROWS: '50',
    DUCTSTREAM_STEP_MAX_ROWS: '100',
    DUCTSTREAM_RETRY_MAX_BACKOFF: '1',
  });
  state = await openAppState(env);
  const store = state.checkpoints;
  const recording: CheckpointStore = {
    get: (f, s) => store.get(f, s),
    commit: async (f, s, lsn) => {
      const stored = await store.commit(f, s, lsn);
      commits.push({ flowId: f, lsn: stored });
      return stored;
    },
    list: (f) => store.list(f),
    delete: (f) => store.delete(f),
    close: () => store.close(),
  };
  registerFaultyDestination();
  bindPipelineContext(
    new PipelineContext({ env, flows: state.flows, checkpoints: recording, codecFor: getCodec, log: silentLogger, openSource: wrapFirstOpen }),
  );
  await launchDbos({ env, executorId: 'flowrun-faults-test', systemDatabaseUrl: env.dbosSystemDatabaseUrl!, log: silentLogger });
});

afterAll(async () => {
  await pipelineContext().runtimes.releaseAll();
  await shutdownDbos();
  await state?.close();
  await source?.drop();
  await stateDb?.drop();
});

interface Scenario {
  flowId: string;
  table: string;
  slot: string;
  sink: Sink;
  /** The source's WAL end after the backlog. */
  walEnd: Lsn;
}

/** A table, its publication and slot, the backlog, and a running flow into a `faulty` destination with `faults`. */
async function prepare(name: string, faults: Record<string, string>): Promise<Scenario> {
  const table = `public.t_${name}`;
  const slot = `faults_${name}`;
  await source.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, v text NOT NULL)`);
  await source.query(`CREATE PUBLICATION ${slot}_pub FOR TABLE ${table}`);
  await source.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  await source.query(`INSERT INTO ${table} SELECT g, 'v' || g FROM generate_series(1, 300) g`);
  for (let k = 1; k <= 30; k++) await source.query(`UPDATE ${table} SET v = 'u' || id WHERE id = $1`, [k * 7]);
  await source.query(`DELETE FROM ${table} WHERE id % 10 = 0`);
  await source.query(`INSERT INTO ${table} SELECT g, 'w' || g FROM generate_series(301, 400) g`);
  const walEnd = parseLsn((await source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'))[0]!.lsn);
  const flowId = `faults-${name}`;
  await state.flows.create({
    id: flowId,
    name: flowId,
    wire_format: 'json',
    parallelism: 1,
    state: 'running',
    source: {
      name: 'pg',
      type: 'postgres',
      options: {
        dsn: source.dsn,
        slot,
        publication: `${slot}_pub`,
        batch_size: '50',
        batch_timeout: '200ms',
        status_interval: '1s',
        heartbeat_interval: '0',
      },
    },
    destinations: [{ name: 'dest', type: 'faulty', options: { sink: flowId, ...faults } }],
  });
  return { flowId, table, slot, sink: sinkOf(flowId), walEnd };
}

/** Flows whose next stream opens through {@link EmptyFirstSource} (once). */
const emptyFirst = new Set<string>();

function wrapFirstOpen(config: ConstructorParameters<typeof PostgresSource>[0], deps: ConstructorParameters<typeof PostgresSource>[1]): Source {
  const real = new PostgresSource(config, deps);
  return emptyFirst.delete(deps.flowId) ? new EmptyFirstSource(real, config.dsn) : real;
}

/**
 * The real source, except that before handing anything out it reads ahead until the session has
 * received the whole backlog (its received position or the server's keepalive WAL end reached the
 * end of the WAL written), then hands out an empty batch at the start position first: what a batch
 * cut by the timer looks like when the backlog arrives while it is on its way to the run.
 */
class EmptyFirstSource implements Source {
  constructor(
    private readonly inner: PostgresSource,
    private readonly dsn: string,
  ) {}

  open(from: Lsn): AsyncIterable<Batch> {
    const { inner, dsn } = this;
    return {
      async *[Symbol.asyncIterator]() {
        const it = inner.open(from)[Symbol.asyncIterator]();
        const target = await currentWalEnd(dsn);
        const queued: Batch[] = [];
        const deadline = Date.now() + 30_000;
        for (;;) {
          const s = inner.stats();
          if (s.receivedLsn >= target || s.serverWalEnd >= target) break;
          if (Date.now() > deadline) throw new Error('test precondition: the source never received the backlog');
          const r = await it.next();
          if (r.done) return;
          queued.push(r.value);
        }
        expect(queued.some((b) => b.changes.length > 0)).toBe(true);
        yield { flowId: queued[0]!.flowId, changes: [], schemas: new Map(), firstLsn: from, checkpointLsn: from };
        yield* queued;
        for (;;) {
          const r = await it.next();
          if (r.done) return;
          yield r.value;
        }
      },
    };
  }

  ack(upTo: Lsn): Promise<void> {
    return this.inner.ack(upTo);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  stats(): SourceStats {
    return this.inner.stats();
  }
}

/** Runs the flow once until one empty read after catching up; waits for writes that land late. */
async function run(s: Scenario, attempt: number): Promise<FlowRunResult> {
  const handle = await DBOS.startWorkflow(flowRun, { workflowID: `${s.flowId}-run-${attempt}` })(s.flowId, {
    maxEmptyReads: 1,
    maxStepsPerRun: 10_000,
    onBound: 'end',
    chainIndex: 0,
  });
  try {
    return await handle.getResult();
  } finally {
    await Promise.all([...s.sink.pending]);
  }
}

async function sourceRows(table: string): Promise<Array<Record<string, string>>> {
  return source.query<Record<string, string>>(`SELECT t.id::text AS id, t.v FROM ${table} t ORDER BY t.id`);
}

/** Nothing lost, nothing regressed: rows read back, every change delivered, the checkpoint at the end and monotone. */
async function expectComplete(s: Scenario): Promise<void> {
  expect(sinkRows(s.sink, s.table)).toEqual(await sourceRows(s.table));
  expect(deliveredPositions(s.sink).size).toBe(BACKLOG_CHANGES);
  const checkpoint = await state.checkpoints.get(s.flowId, s.slot);
  expect(checkpoint).not.toBeNull();
  expect(checkpoint! >= s.walEnd).toBe(true);
  const mine = commits.filter((c) => c.flowId === s.flowId).map((c) => c.lsn);
  expect(mine.length).toBeGreaterThan(0);
  expect(mine.every((lsn, i) => i === 0 || lsn >= mine[i - 1]!)).toBe(true);
  expect(mine[mine.length - 1]).toBe(checkpoint);
  const slot = await source.query<{ confirmed: string }>('SELECT confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1', [
    s.slot,
  ]);
  expect(parseLsn(slot[0]!.confirmed) <= checkpoint!).toBe(true);
}

it('a write that fails (transient) is retried from the checkpoint', async () => {
  const s = await prepare('fail', { fail_writes: '3,4' });
  const result = await run(s, 1);
  expect(result.end).toBe('empty');
  await expectComplete(s);
  expect(s.sink.deliveries.filter((d) => d.how === 'failed').map((d) => d.write)).toEqual([3, 4]);
  expect((await state.flows.get(s.flowId))!.state).toBe('running');
});

it('a write that fails for good fails the flow short of its batch; the next run delivers the rest', async () => {
  const s = await prepare('permanent', { fail_writes: '3', fail_class: 'never' });
  await expect(run(s, 1)).rejects.toThrow(/write 3 fails/);
  const failed = (await state.flows.get(s.flowId))!;
  expect(failed.state).toBe('failed');
  expect(failed.state_reason).toMatch(/faulty destination "dest": write 3 fails/);
  const [failedWrite] = s.sink.deliveries.filter((d) => d.how === 'failed');
  const firstUndelivered = BigInt(failedWrite!.positions[0]!.split(':')[0]!);
  const checkpoint = await state.checkpoints.get(s.flowId, s.slot);
  expect(checkpoint === null || checkpoint <= firstUndelivered).toBe(true);
  expect(deliveredPositions(s.sink).size).toBeLessThan(BACKLOG_CHANGES);

  await state.flows.setState(s.flowId, 'running');
  expect((await run(s, 2)).end).toBe('empty');
  await expectComplete(s);
});

it('a write that hangs past its deadline is retried; the late copy it applies afterwards changes nothing', async () => {
  const s = await prepare('hang', { hang_writes: '3', deadline: '300ms', late_by: '1500ms' });
  expect((await run(s, 1)).end).toBe('empty');
  await expectComplete(s);
  const late = s.sink.deliveries.find((d) => d.how === 'late');
  expect(late?.write).toBe(3);
  // The retry delivered the same changes again, before the late copy landed: the watermark skipped all of it.
  const retried = s.sink.deliveries.filter((d) => d.how === 'applied' && d.write > 3).flatMap((d) => d.positions);
  expect(late!.positions.filter((p) => !retried.includes(p))).toEqual([]);
  expect(late!.skipped).toBe(late!.positions.length);
});

it('a write that commits and then fails before returning is replayed without effect', async () => {
  const s = await prepare('after_commit', { fail_after_commit_writes: '2,5' });
  expect((await run(s, 1)).end).toBe('empty');
  await expectComplete(s);
  const byWrite = s.sink.deliveries.filter((d) => d.how === 'applied');
  const committed = byWrite.filter((d) => d.write === 2 || d.write === 5);
  expect(committed).toHaveLength(2);
  // The replay after each failure re-delivered what that write had committed: skipped, not applied twice.
  for (const c of committed) {
    const replay = byWrite.find((d) => d.write > c.write && d.positions.includes(c.positions[0]!));
    expect(replay).toBeDefined();
    expect(replay!.skipped).toBeGreaterThan(0);
  }
});

it('a batch delivered twice leaves the rows as the source has them', async () => {
  const s = await prepare('twice', { duplicate_writes: '1,2,3,6' });
  expect((await run(s, 1)).end).toBe('empty');
  await expectComplete(s);
  const dups = s.sink.deliveries.filter((d) => d.how === 'duplicate');
  expect(dups.map((d) => d.write)).toEqual([1, 2, 3, 6]);
  expect(dups.every((d) => d.skipped === d.positions.length)).toBe(true);
});

it('an empty batch handed out while the backlog is already received does not end the run early', async () => {
  const s = await prepare('early_empty', {});
  emptyFirst.add(s.flowId);
  expect((await run(s, 1)).end).toBe('empty');
  expect(emptyFirst.has(s.flowId)).toBe(false);
  await expectComplete(s);
});
