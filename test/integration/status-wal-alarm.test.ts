/**
 * The `wal_status` alarm on a real slot: a private PostgreSQL with `max_slot_wal_keep_size = 1MB`
 * keeps a flow's slot behind while WAL is written, and the status sampler reads the slot move from
 * `reserved` to `unreserved` (past max_slot_wal_keep_size, safe_wal_size at or below 0) and then
 * to `lost` (its WAL removed). Each shows in the status (wal_status, safe_wal_size, the alarm and
 * its message), as `ductstream_flow_alarm{kind="wal_status"}` and as one warning line.
 */
import { Client, Pool } from 'pg';
import { silentLogger } from '../../src/core/log';
import { PostgresCheckpointStore } from '../../src/state/checkpoint/postgres';
import { migrateStateDatabase } from '../../src/state/db';
import { PostgresFlowStore } from '../../src/state/flows/postgresStore';
import { metricsRegistry } from '../../src/status/metrics';
import type { FlowStatus } from '../../src/status/model';
import { StatusSampler } from '../../src/status/sampler';
import { PostgresFlowStatsStore } from '../../src/status/statsStore';
import { startLocalCluster, type LocalCluster } from '../../tools/localpg';

let cluster: LocalCluster;
let source: Client;
let pool: Pool;
let sampler: StatusSampler;
const warnings: string[] = [];

beforeAll(async () => {
  cluster = await startLocalCluster({ settings: { max_slot_wal_keep_size: '1MB', max_wal_size: '32MB', min_wal_size: '32MB' } });
  const admin = new Client(cluster.dsn());
  await admin.connect();
  await admin.query('CREATE DATABASE src');
  await admin.query('CREATE DATABASE state');
  await admin.end();
  source = new Client(cluster.dsn('src'));
  await source.connect();
  await source.query('CREATE TABLE public.big (v text)');
  await source.query(`SELECT pg_create_logical_replication_slot('kept_slot', 'pgoutput')`);
  await migrateStateDatabase(cluster.dsn('state'));
  pool = new Pool({ connectionString: cluster.dsn('state'), max: 2 });
  const flows = new PostgresFlowStore(pool);
  await flows.create({
    id: 'kept',
    name: 'kept',
    source: {
      name: 'pg',
      type: 'postgres',
      options: { dsn: cluster.dsn('src'), slot: 'kept_slot', publication: 'kept_pub', publication_tables: 'public.big' },
    },
    destinations: [{ name: 'sink', type: 'http', options: { url: 'http://127.0.0.1:9/' } }],
    wire_format: '',
    parallelism: 1,
    state: 'created',
  });
  await flows.setState('kept', 'paused', 'held back by the test');
  sampler = new StatusSampler({
    deps: { flows, checkpoints: new PostgresCheckpointStore(pool), stats: new PostgresFlowStatsStore(pool), runs: null },
    intervalMs: 60_000,
    log: { ...silentLogger, warn: (msg, fields) => void warnings.push(`${msg} ${JSON.stringify(fields)}`), child: () => silentLogger },
  });
});

afterAll(async () => {
  await sampler?.stop();
  await pool?.end();
  await source?.end();
  await cluster?.stop();
});

async function sampled(): Promise<FlowStatus> {
  await sampler.sample();
  sampler.invalidate();
  return (await sampler.list())[0]!;
}

/** ~2 MB of WAL in a segment of its own. */
async function writeWal(): Promise<void> {
  await source.query(`INSERT INTO public.big SELECT repeat('w', 1000) FROM generate_series(1, 2000)`);
  await source.query('SELECT pg_switch_wal()');
}

async function alarmMetric(): Promise<number> {
  const line = (await metricsRegistry.metrics()).split('\n').find((l) => l.startsWith('ductstream_flow_alarm{flow="kept",kind="wal_status"} '));
  return Number(line?.split(' ')[1]);
}

test('a slot past max_slot_wal_keep_size raises the wal_status alarm, first unreserved, then lost', async () => {
  const reserved = await sampled();
  expect(reserved.slot?.walStatus).toBe('reserved');
  expect(reserved.slot?.safeWalSize).toBeGreaterThan(0);
  expect(reserved.alarms).toEqual([]);
  expect(await alarmMetric()).toBe(0);

  await writeWal();
  const unreserved = await sampled();
  expect(unreserved.slot?.walStatus).toBe('unreserved');
  expect(unreserved.slot?.safeWalSize).toBeLessThanOrEqual(0);
  expect(unreserved.alarms.map((a) => a.kind)).toEqual(['wal_status']);
  expect(unreserved.alarms[0]!.message).toBe(
    'slot kept_slot is past max_slot_wal_keep_size (wal_status=unreserved): WAL will be removed at the next checkpoint unless the flow catches up',
  );
  expect(await alarmMetric()).toBe(1);

  let lost = unreserved;
  for (let i = 0; i < 10 && lost.slot?.walStatus !== 'lost'; i++) {
    await writeWal();
    lost = await sampled();
  }
  expect(lost.slot?.walStatus).toBe('lost');
  expect(lost.slot?.safeWalSize).toBeNull();
  expect(lost.alarms.map((a) => a.kind)).toEqual(['wal_status']);
  expect(lost.alarms[0]!.message).toMatch(/^slot kept_slot has lost required WAL \(wal_status=lost\): the flow cannot continue from it/);
  expect(await alarmMetric()).toBe(1);
  // Raised once (the message changes, the alarm does not): one warning line.
  expect(warnings.filter((w) => w.startsWith('alarm: slot kept_slot') && w.includes('"alarm":"wal_status"'))).toHaveLength(1);
});
