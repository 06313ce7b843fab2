/**
 * Flow status with many flows costs a constant number of database round trips: the status
 * sampler (which ListFlowStatus and the page's list answer from) and its list answers are run
 * in-process on the real state database, real source slots and a real DBOS system database, with
 * every round trip counted where it leaves (each pool client's `query`, each source query). The
 * count is the same for 6 flows and for 46; the statuses read back are right for flows in
 * different states (running with lag and an active DBOS run, paused with a queued backfill,
 * failed, retrying, held at a schema change, stalled), and as metrics with one warning per
 * alarm; a state change made elsewhere shows in list answers within LIST_FRESH_MS.
 */
import { DBOS, DBOSClient } from '@dbos-inc/dbos-sdk';
import { Pool, type PoolClient } from 'pg';
import { silentLogger } from '../../src/core/log';
import { formatLsn, parseLsn } from '../../src/core/lsn';
import type { Flow } from '../../src/core/flow';
import { DdlStore } from '../../src/ddl/store';
import { PostgresCheckpointStore } from '../../src/state/checkpoint/postgres';
import { migrateStateDatabase } from '../../src/state/db';
import { PostgresFlowStore } from '../../src/state/flows/postgresStore';
import { clientReader } from '../../src/services/backfill/status';
import { BackfillStatusExtension } from '../../src/status/backfill';
import { DdlStatusExtension } from '../../src/status/ddl';
import { metricsRegistry } from '../../src/status/metrics';
import type { FlowStatus } from '../../src/status/model';
import { RunHistory, type WorkflowReader } from '../../src/status/runHistory';
import { LIST_FRESH_MS, StatusSampler } from '../../src/status/sampler';
import { SourceConnections } from '../../src/status/sourceConnections';
import { PostgresFlowStatsStore } from '../../src/status/statsStore';
import { BACKFILL_WORKFLOW, newBackfillId, PLAN_EVENT, type BackfillRequest } from '../../src/workflows/backfill/types';
import { newRunId } from '../../src/workflows/runIds';
import { createTestDatabase, type TestDatabase } from '../support/pg';

let source: TestDatabase;
let state: TestDatabase;
let statePool: Pool;
let dbosPool: Pool;
let dbos: DBOSClient;
const connections = new SourceConnections();
const trips = { state: 0, dbos: 0, source: 0 };
const warnings: string[] = [];

/** Counts every query a client of `pool` sends (pool.query goes through a client too). */
function countQueries(pool: Pool, bump: () => void): Pool {
  pool.on('connect', (c: PoolClient) => {
    const query = c.query.bind(c) as (...a: unknown[]) => unknown;
    (c as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
      bump();
      return query(...a);
    };
  });
  return pool;
}

const total = () => trips.state + trips.dbos + trips.source;

async function counted(fn: () => Promise<unknown>): Promise<{ state: number; dbos: number; source: number; total: number }> {
  const before = { ...trips };
  await fn();
  const d = { state: trips.state - before.state, dbos: trips.dbos - before.dbos, source: trips.source - before.source };
  return { ...d, total: d.state + d.dbos + d.source };
}

function flowOf(id: string, slot: string, sourceOptions: Record<string, string> = {}): Flow {
  return {
    id,
    name: `flow ${id}`,
    source: { name: 'pg', type: 'postgres', options: { dsn: source.dsn, slot, publication: `${slot}_pub`, publication_tables: 'public.t', ...sourceOptions } },
    destinations: [{ name: 'sink', type: 'http', options: { url: 'http://127.0.0.1:9/' } }],
    wire_format: '',
    parallelism: 1,
    state: 'created',
  };
}

const currentLsn = async () => parseLsn((await source.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l'))[0]!.l);

let flows: PostgresFlowStore;
let sampler: StatusSampler;
let runA = '';
let slotA = 0n;
let walWritten = 0n;
let checkpointA = 0n;

beforeAll(async () => {
  source = await createTestDatabase('status_q_src');
  state = await createTestDatabase('status_q_state');
  await source.query('CREATE TABLE public.t (id bigint PRIMARY KEY, v text)');
  await migrateStateDatabase(state.dsn);
  statePool = countQueries(new Pool({ connectionString: state.dsn, max: 4 }), () => trips.state++);
  const sysUrl = state.dsn.replace(/\/([^/]+)$/, '/$1_dbos_sys');
  await DBOS.migrate(sysUrl);
  dbosPool = countQueries(new Pool({ connectionString: sysUrl, max: 4 }), () => trips.dbos++);
  dbos = await DBOSClient.create({ systemDatabasePool: dbosPool, systemDatabaseUrl: sysUrl });

  flows = new PostgresFlowStore(statePool);
  const checkpoints = new PostgresCheckpointStore(statePool);
  const stats = new PostgresFlowStatsStore(statePool);
  const ddl = new DdlStore(statePool);

  // a: running, behind its slot by the WAL written below, with an active (enqueued) DBOS run.
  slotA = parseLsn((await source.query<{ l: string }>(`SELECT lsn::text AS l FROM pg_create_logical_replication_slot('status_q_a', 'pgoutput')`))[0]!.l);
  await source.query(`SELECT pg_create_logical_replication_slot('status_q_b', 'pgoutput')`);
  await source.query(`SELECT pg_create_logical_replication_slot('status_q_f', 'pgoutput')`);
  await flows.create(flowOf('a-running', 'status_q_a', { lag_alarm_bytes: '1000' }));
  await flows.setState('a-running', 'running');
  checkpointA = slotA;
  await checkpoints.commit('a-running', 'status_q_a', checkpointA);
  await stats.publish(
    [
      {
        flowId: 'a-running',
        receivedLsn: formatLsn(slotA),
        lastAppliedCommitAt: new Date(),
        caughtUpAt: null,
        retries: 0,
        lastError: '',
        lastErrorHint: '',
        lastErrorAt: null,
        heartbeatLsn: null,
        heartbeatAt: null,
        tables: [['public.t', 'insert', 5, 2.5]],
      },
    ],
    'test',
  );
  runA = newRunId('a-running');
  await dbos.enqueue({ workflowName: 'flowRun', queueName: 'status-queries-test', workflowID: runA }, 'a-running', {});
  await source.query(`INSERT INTO public.t SELECT g, repeat('x', 100) FROM generate_series(1, 200) g`);
  walWritten = (await currentLsn()) - slotA;

  // b: paused by an operator.
  await flows.create(flowOf('b-paused', 'status_q_b'));
  await flows.setState('b-paused', 'paused', 'paused for maintenance');
  // ... with a backfill of its table waiting in the backfill queue.
  const backfill: BackfillRequest = {
    flowId: 'b-paused',
    tables: ['public.t'],
    workers: 1,
    partitionCount: 1,
    consistent: false,
    resolveStaging: false,
    resync: false,
    holdLsn: formatLsn(slotA),
  };
  await dbos.enqueue({ workflowName: BACKFILL_WORKFLOW, queueName: 'status-queries-test', workflowID: newBackfillId('b-paused') }, backfill);
  // c: failed; its slot never existed.
  await flows.create(flowOf('c-failed', 'status_q_c'));
  await flows.setState('c-failed', 'failed', 'destination refused the batch');
  // d: running, its last failure newer than any progress: retrying.
  await flows.create(flowOf('d-retrying', 'status_q_d'));
  await flows.setState('d-retrying', 'running');
  await stats.publish(
    [
      {
        flowId: 'd-retrying',
        receivedLsn: null,
        lastAppliedCommitAt: null,
        caughtUpAt: null,
        retries: 3,
        lastError: 'connection refused',
        lastErrorHint: 'start the destination',
        lastErrorAt: new Date(),
        heartbeatLsn: null,
        heartbeatAt: null,
        tables: [],
      },
    ],
    'test',
  );
  // e: running, one table held at a schema change waiting for approval.
  await flows.create(flowOf('e-held', 'status_q_e'));
  await flows.setState('e-held', 'running');
  await ddl.announce(
    [
      {
        flowId: 'e-held',
        lsn: slotA,
        table: { schema: 'public', name: 't' },
        kind: 'add_column',
        ddl: 'ALTER TABLE public.t ADD COLUMN w int',
        before: null,
        after: null,
        changes: [],
        status: 'pending',
        actor: 'test',
      },
    ],
    { flowId: 'e-held', table: { schema: 'public', name: 't' }, schema: null, at: { lsn: slotA, seq: 0 } },
  );

  // f: running, its checkpoint unmoved past stall_alarm while WAL waits, last applied commit 30 s ago.
  await flows.create(flowOf('f-stalled', 'status_q_f', { stall_alarm: '1s', lag_alarm_seconds: '10s' }));
  await flows.setState('f-stalled', 'running');
  await checkpoints.commit('f-stalled', 'status_q_f', slotA);
  await stats.publish(
    [
      {
        flowId: 'f-stalled',
        receivedLsn: formatLsn(slotA),
        lastAppliedCommitAt: new Date(Date.now() - 30_000),
        caughtUpAt: null,
        retries: 0,
        lastError: '',
        lastErrorHint: '',
        lastErrorAt: null,
        heartbeatLsn: null,
        heartbeatAt: null,
        tables: [],
      },
    ],
    'test',
  );

  const reader = dbos as unknown as WorkflowReader;
  sampler = new StatusSampler({
    deps: {
      flows,
      checkpoints,
      stats,
      runs: new RunHistory(reader, dbosPool),
      extensions: [new DdlStatusExtension(ddl), new BackfillStatusExtension(clientReader(dbos))],
    },
    intervalMs: 60_000,
    log: { ...silentLogger, warn: (msg, fields) => void warnings.push(`${msg} ${JSON.stringify(fields)}`), child: () => silentLogger },
    sourceQuery: (dsn, sql, params) => {
      trips.source++;
      return connections.query(dsn, sql, params);
    },
  });
});

afterAll(async () => {
  await sampler?.stop();
  await connections.close();
  await dbos?.destroy();
  await dbosPool?.end();
  await statePool?.end();
  await source.drop();
  await state.drop();
});

const byId = (all: FlowStatus[]) => new Map(all.map((s) => [s.flowId, s] as const));

test('statuses of flows in different states read back right, from the sample and from list answers', async () => {
  await new Promise((r) => setTimeout(r, 1100)); // past f-stalled's stall_alarm
  await sampler.sample();
  const after = await currentLsn();
  const listed = await sampler.list();
  expect(listed.map((s) => s.flowId)).toEqual(['a-running', 'b-paused', 'c-failed', 'd-retrying', 'e-held', 'f-stalled']);
  const s = byId(listed);

  const a = s.get('a-running')!;
  expect(a.state).toBe('running');
  expect(a.reason).toBe('');
  expect(a.checkpointLsn).toBe(formatLsn(checkpointA));
  expect(a.slot?.exists).toBe(true);
  expect(a.slot?.confirmedFlushLsn).toBe(formatLsn(slotA));
  // Behind the slot by at least the WAL this test wrote, at most by all WAL written since.
  expect(BigInt(a.lagBytes)).toBeGreaterThanOrEqual(walWritten);
  expect(BigInt(a.lagBytes)).toBeLessThanOrEqual(after - slotA);
  expect(a.rows).toEqual([{ table: 'public.t', op: 'insert', rows: 5, rowsPerSecond: 2.5 }]);
  expect(a.rowsTotal).toBe(5);
  expect(a.activeRunId).toBe(runA);
  expect(a.alarms.map((x) => x.kind)).toEqual(['lag_bytes']);

  const b = s.get('b-paused')!;
  expect([b.state, b.reason, b.slot?.exists, b.activeRunId, b.checkpointLsn]).toEqual(['paused', 'paused for maintenance', true, '', null]);
  expect(b.backfill).toEqual([{ table: 'public.t', partitionsDone: 0, partitionsTotal: 0, rows: 0, state: 'ENQUEUED' }]);
  expect(a.backfill).toEqual([]);

  const c = s.get('c-failed')!;
  expect([c.state, c.reason, c.slot?.exists, c.lagBytes]).toEqual(['failed', 'destination refused the batch', false, 0]);

  const d = s.get('d-retrying')!;
  expect([d.state, d.reason, d.lastErrorHint, d.retries]).toEqual(['running', 'retrying: connection refused', 'start the destination', 3]);

  // Derived from the DDL events at sample time, and kept by list answers while the stored state is unchanged.
  const e = s.get('e-held')!;
  expect(e.state).toBe('pending_ddl');
  expect(e.reason).toMatch(/^public\.t held at a schema change \(DDL event \d+: pending\)$/);
  expect(e.alarms.map((x) => x.kind)).toEqual(['ddl_held']);
  expect(e.pendingDdl).toHaveLength(1);

  const f = s.get('f-stalled')!;
  expect(f.alarms.map((x) => x.kind)).toEqual(['lag_seconds', 'stall']);
  expect(f.lagSeconds).toBeGreaterThanOrEqual(30);
  expect(f.lagSeconds).toBeLessThan(60);

  // The same numbers as metrics, and a warning per raised alarm.
  const text = await metricsRegistry.metrics();
  const value = (series: string) =>
    Number(
      text
        .split('\n')
        .find((l) => l.startsWith(`${series} `))
        ?.split(' ')[1],
    );
  expect(value('ductstream_flow_lag_bytes{flow="a-running"}')).toBe(a.lagBytes);
  expect(value('ductstream_flow_lag_seconds{flow="f-stalled"}')).toBe(f.lagSeconds);
  expect(value('ductstream_slot_retained_wal_bytes{flow="a-running",slot="status_q_a"}')).toBe(a.slot!.retainedWalBytes);
  expect(a.slot!.retainedWalBytes).toBeGreaterThanOrEqual(Number(walWritten));
  expect(value('ductstream_rows_total{flow="a-running",table="public.t",op="insert"}')).toBe(5);
  expect(value('ductstream_retries_total{flow="d-retrying"}')).toBe(3);
  expect(value('ductstream_flow_state{flow="d-retrying",state="retrying"}')).toBe(1);
  expect(value('ductstream_flow_state{flow="b-paused",state="paused"}')).toBe(1);
  expect(value('ductstream_flow_state{flow="e-held",state="pending_ddl"}')).toBe(1);
  expect(value('ductstream_flow_alarm{flow="f-stalled",kind="stall"}')).toBe(1);
  expect(value('ductstream_flow_alarm{flow="f-stalled",kind="lag_bytes"}')).toBe(0);
  for (const [flow, kind] of [
    ['a-running', 'lag_bytes'],
    ['e-held', 'ddl_held'],
    ['f-stalled', 'lag_seconds'],
    ['f-stalled', 'stall'],
  ]) {
    expect(warnings.filter((w) => w.startsWith('alarm: ') && w.includes(`"flow":"${flow}","alarm":"${kind}"`))).toHaveLength(1);
  }
});

test('a state change shows in list answers within LIST_FRESH_MS, before the next sample', async () => {
  await sampler.sample();
  await flows.setState('b-paused', 'running');
  await flows.setState('a-running', 'paused', 'paused by test');
  await new Promise((r) => setTimeout(r, LIST_FRESH_MS));
  const s = byId(await sampler.list());
  expect([s.get('b-paused')!.state, s.get('b-paused')!.reason]).toEqual(['running', '']);
  expect([s.get('a-running')!.state, s.get('a-running')!.reason]).toEqual(['paused', 'paused by test']);
  // The numbers stay the sample's.
  expect(s.get('a-running')!.rowsTotal).toBe(5);
  await flows.setState('b-paused', 'paused', 'paused for maintenance');
  await flows.setState('a-running', 'running');
});

test('database round trips of a sample and of a list answer do not grow with the number of flows', async () => {
  await sampler.sample();
  const sampleFew = await counted(() => sampler.sample());
  sampler.invalidate();
  const listFew = await counted(() => sampler.list());
  // Within LIST_FRESH_MS list answers share the flows they read; concurrent ones one query.
  expect((await counted(() => sampler.list())).total).toBe(0);
  sampler.invalidate();
  expect((await counted(() => Promise.all([sampler.list(), sampler.list(), sampler.list()]))).total).toBe(1);

  for (let i = 0; i < 40; i++) {
    const id = `z-${String(i).padStart(2, '0')}`;
    await flows.create(flowOf(id, `status_q_z${i}`));
    if (i % 2 === 0) await flows.setState(id, 'stopped', 'stopped by test');
  }
  await sampler.sample();
  const sampleMany = await counted(() => sampler.sample());
  sampler.invalidate();
  const listed: FlowStatus[] = [];
  const listMany = await counted(async () => listed.push(...(await sampler.list())));
  expect(listed.filter((x) => x.state === 'stopped')).toHaveLength(20);
  expect(listed).toHaveLength(46);

  // A sample: flows, checkpoints, stats (flows and tables), DDL events, DBOS queries for the
  // active runs and the active backfills (and the one backfill's plan), one slot query for the
  // one source server.
  expect(sampleFew.source).toBe(1);
  expect(sampleFew.state).toBe(5);
  expect(sampleMany).toEqual(sampleFew);
  expect(sampleFew.total).toBeLessThanOrEqual(20);
  // A list answer: one query on the flows, the rest from the sample.
  expect(listFew).toEqual({ state: 1, dbos: 0, source: 0, total: 1 });
  expect(listMany).toEqual(listFew);
  expect(total()).toBeGreaterThan(0);
  if (process.env.STATUS_Q_DEBUG) process.stderr.write(`${JSON.stringify({ sampleFew, sampleMany, listFew, listMany })}\n`);
});

test('reading a backfill event that is not there yet costs one round trip, every time', async () => {
  // What a sample does for a backfill still queued: its plan is not published yet.
  const reader = clientReader(dbos);
  const id = newBackfillId('b-paused');
  const calls = new Map<number, number>();
  for (let i = 0; i < 300; i++) {
    let plan: unknown = 'unread';
    const c = await counted(async () => (plan = await reader.getEvent(id, PLAN_EVENT)));
    expect(plan).toBeNull();
    calls.set(c.dbos, (calls.get(c.dbos) ?? 0) + 1);
  }
  // round trips per read → reads
  expect([...calls]).toEqual([[1, 300]]);
});
