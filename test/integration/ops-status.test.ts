/**
 * The operations view through the real server (`./bin/ductstream`), real PostgreSQL, real DBOS:
 * the same flow status read back from FlowService.GetFlowStatus/ListFlowStatus, `ductstream-admin
 * flow status -json`, the status page's JSON, the page itself in headless Chromium, and /metrics.
 * Lag grows while a flow is paused and falls to about 0 after resume; heartbeats move an idle
 * flow's slot while another table takes writes, and `heartbeat_interval=0` writes none; DBOS
 * spans reach an in-process OTLP receiver.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { adminJson } from '../support/admin';
import { parseLsn } from '../../src/core/lsn';
import { flowClient, startApiServer, waitFor, type ApiServerProcess, type FlowClient } from '../support/api';
import { testFlow } from '../support/flows';
import { startOtlpReceiver, type OtlpReceiver } from '../support/peers/otlpReceiver';
import { createTestDatabase, type TestDatabase } from '../support/pg';

let source: TestDatabase;
let state: TestDatabase;
let dir: string;
let server: ApiServerProcess;
let api: FlowClient;
let http: string;
let otlp: OtlpReceiver;
let browser: Browser | undefined;

interface StatusMsg {
  flow_id: string;
  state: string;
  reason: string;
  lag_bytes: string;
  lag_seconds: number;
  checkpoint_lsn: string;
  confirmed_flush_lsn: string;
  heartbeat_lsn: string;
  rows_total: string;
  rows: Array<{ table: string; op: string; rows: string }>;
  runs: Array<{ run_id: string; steps: Array<{ name: string }> }>;
  wal_status: string;
  retained_wal_bytes: string;
  alarms: Array<{ kind: string; message: string }>;
}

const env = () => ({ DUCTSTREAM_POSTGRES_DSN: state.dsn });

beforeAll(async () => {
  source = await createTestDatabase('ops_src');
  state = await createTestDatabase('ops_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-ops-'));
  await source.query('CREATE TABLE public.items (id bigint PRIMARY KEY, v text NOT NULL)');
  await source.query('CREATE TABLE public.quiet (id bigint PRIMARY KEY)');
  await source.query('CREATE TABLE public.busy (id bigserial PRIMARY KEY, v text)');
  otlp = await startOtlpReceiver();
  server = await startApiServer({
    DUCTSTREAM_POSTGRES_DSN: state.dsn,
    DBOS__VMID: 'ops-status-test',
    DUCTSTREAM_SUPERVISOR_INTERVAL: '1',
    DUCTSTREAM_STATUS_INTERVAL: '1',
    DUCTSTREAM_HTTP_LISTEN: '127.0.0.1:0',
    DBOS__OTLP_TRACES_ENDPOINT: `${otlp.url}/v1/traces`,
    DBOS__OTLP_LOGS_ENDPOINT: `${otlp.url}/v1/logs`,
  });
  http = /status page and \/metrics on (http:\/\/\S+)/.exec(server.proc.output().stderr)![1]!;
  api = flowClient(server.address);
});

afterAll(async () => {
  if (process.env.OPS_DEBUG) process.stderr.write(server.proc.output().stderr.slice(-6000));
  await browser?.close();
  api?.close();
  await server?.stop();
  await otlp?.close();
  await source.drop();
  await state.drop();
  rmSync(dir, { recursive: true, force: true });
});

const status = (flowId: string) => api.call<StatusMsg>('GetFlowStatus', { flow_id: flowId });
const pageJson = async (flowId: string) => (await (await fetch(`${http}/api/flows/${flowId}`)).json()) as Record<string, unknown>;

async function metric(name: string, flowId: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{flow="${flowId}"`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
}

async function insertItems(from: number, n: number): Promise<void> {
  await source.query(`INSERT INTO public.items SELECT g, repeat('x', 200) FROM generate_series($1::bigint, $2::bigint) g`, [from, from + n - 1]);
}

test('lag grows while a flow is paused and falls to about 0 after resume, on every surface', async () => {
  const flow = testFlow({
    id: 'ops-lag',
    sourceDsn: source.dsn,
    slot: 'ops_lag',
    publication: 'ops_lag',
    tables: ['public.items'],
    destinations: [{ name: 'wh', type: 'duckdb', options: { dsn: join(dir, 'lag.duckdb') } }],
    sourceOptions: { lag_alarm_bytes: '300000' },
  });
  await api.call('CreateFlow', { flow, start_immediately: true });
  await waitFor('flow streaming', async () => (await status('ops-lag')).checkpoint_lsn !== '');
  await insertItems(1, 100);
  await source.query('UPDATE public.items SET v = $1 WHERE id <= 10', ['y']);
  const caughtUp = await waitFor('rows counted', async () => {
    const s = await status('ops-lag');
    const ins = s.rows.find((r) => r.table === 'public.items' && r.op === 'insert');
    const upd = s.rows.find((r) => r.table === 'public.items' && r.op === 'update');
    return ins?.rows === '100' && upd?.rows === '10' ? s : null;
  });
  expect(caughtUp.state).toBe('running');
  expect(caughtUp.rows_total).toBe('110');
  expect(caughtUp.runs.length).toBeGreaterThan(0);
  expect(caughtUp.runs[0]!.steps.map((s) => s.name)).toContain('deliverBatch');
  expect(['reserved', 'extended']).toContain(caughtUp.wal_status);

  await api.call('PauseFlow', { flow_id: 'ops-lag' });
  await waitFor('run ended', async () =>
    (await status('ops-lag')).runs.every((r) => !['PENDING', 'ENQUEUED'].includes((r as unknown as { status: string }).status)),
  );
  await insertItems(1000, 3000); // ~0.8 MB of WAL
  const paused = await waitFor('lag while paused', async () => {
    const s = await status('ops-lag');
    return Number(s.lag_bytes) > 500_000 ? s : null;
  });
  expect(paused.state).toBe('paused');
  // The lag alarm: in the status, as a metric, as a warning in the log.
  const alarmed = await waitFor('lag alarm', async () => {
    const st = await status('ops-lag');
    return st.alarms.some((a) => a.kind === 'lag_bytes') ? st : null;
  });
  expect(alarmed.alarms.find((a) => a.kind === 'lag_bytes')!.message).toMatch(/exceeds lag_alarm_bytes 293.0 KB/);
  await waitFor('alarm metric', async () => {
    const text = await (await fetch(`${http}/metrics`)).text();
    return text.includes('ductstream_flow_alarm{flow="ops-lag",kind="lag_bytes"} 1');
  });
  await server.proc.waitForStderr(/WARN\s+alarm: lag .* exceeds lag_alarm_bytes .*flow=ops-lag alarm=lag_bytes/, 10_000);
  const cli = await adminJson<{ flows: Array<{ flow_id: string; lag_bytes: number; state: string }> }>(['flow', 'status'], env());
  const cliFlow = cli.flows.find((f) => f.flow_id === 'ops-lag')!;
  expect(cliFlow.state).toBe('paused');
  expect(cliFlow.lag_bytes).toBeGreaterThan(500_000);
  const one = await adminJson<{ lag_bytes: number; rows: Array<{ op: string; rows: number }> }>(['flow', 'status', '-flow-id', 'ops-lag'], env());
  expect(one.lag_bytes).toBeGreaterThan(500_000);
  expect(one.rows.find((r) => r.op === 'insert')?.rows).toBe(100);
  await waitFor('page JSON lag', async () => Number((await pageJson('ops-lag')).lag_bytes) > 500_000);
  await waitFor('metric lag', async () => (await metric('ductstream_flow_lag_bytes', 'ops-lag')) > 500_000);
  const listed = await api.call<{ flows: StatusMsg[] }>('ListFlowStatus', { state: 'paused' });
  expect(listed.flows.map((f) => f.flow_id)).toEqual(['ops-lag']);

  // A change made through the API shows in the very next list answer (list answers reuse the flows they read briefly).
  await api.call('ResumeFlow', { flow_id: 'ops-lag' });
  expect((await api.call<{ flows: StatusMsg[] }>('ListFlowStatus', { state: 'running' })).flows.map((f) => f.flow_id)).toContain('ops-lag');
  const resumed = await waitFor(
    'lag about 0 after resume',
    async () => {
      const s = await status('ops-lag');
      return Number(s.lag_bytes) < 64 * 1024 && s.lag_seconds < 5 && s.rows.find((r) => r.op === 'insert')?.rows === '3100' ? s : null;
    },
    60_000,
  );
  expect(resumed.state).toBe('running');
  expect(resumed.alarms).toEqual([]);
  await waitFor('metric falls', async () => (await metric('ductstream_flow_lag_bytes', 'ops-lag')) < 64 * 1024);
  expect(await metric('ductstream_rows_total', 'ops-lag')).toBeGreaterThan(0);
});

test('heartbeats move the confirmed_flush_lsn of an idle flow while another table takes writes', async () => {
  const flow = testFlow({
    id: 'ops-idle',
    sourceDsn: source.dsn,
    slot: 'ops_idle',
    publication: 'ops_idle',
    tables: ['public.quiet'],
    destinations: [{ name: 'wh', type: 'duckdb', options: { dsn: join(dir, 'idle.duckdb') } }],
    sourceOptions: { heartbeat_interval: '500ms', status_interval: '500ms' },
  });
  await api.call('CreateFlow', { flow, start_immediately: true });
  await waitFor('idle flow streaming', async () => (await status('ops-idle')).checkpoint_lsn !== '');
  const start = (await source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'))[0]!.lsn;
  const slotPast = async (lsn: string) =>
    (await source.query<{ ok: boolean }>('SELECT confirmed_flush_lsn >= $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $2', [lsn, 'ops_idle']))[0]
      ?.ok === true;
  let writing = true;
  const writer = (async () => {
    while (writing) await source.query(`INSERT INTO public.busy (v) SELECT repeat('b', 100) FROM generate_series(1, 200)`);
  })();
  try {
    const s = await waitFor('heartbeat recorded', async () => {
      const st = await status('ops-idle');
      // A heartbeat written after `start` (an earlier one may already be recorded) and the slot past both.
      return st.heartbeat_lsn && parseLsn(st.heartbeat_lsn) >= parseLsn(start) && (await slotPast(st.heartbeat_lsn)) ? st : null;
    });
    expect(await slotPast(start)).toBe(true);
    expect(s.heartbeat_lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  } finally {
    writing = false;
    await writer;
  }
});

test('heartbeat_interval=0 writes no heartbeat: the idle flow records none and its database decodes none', async () => {
  // A database of its own: logical messages are decoded only in the database that wrote them,
  // so a probe slot here sees this flow's heartbeats and none of ops-idle's. The flow's slot is
  // not asserted on: without heartbeats it still advances here, through the WAL sender's
  // keepalives (0/2F348D0 -> 0/3193FD0 in 5 s of writes to the other table, PostgreSQL 15).
  const db = await createTestDatabase('ops_nohb');
  try {
    await db.query('CREATE TABLE public.quiet (id bigint PRIMARY KEY)');
    await db.query('CREATE TABLE public.busy (id bigserial PRIMARY KEY, v text)');
    await db.query(`SELECT pg_create_logical_replication_slot('ops_nohb_probe', 'test_decoding')`);
    const flow = testFlow({
      id: 'ops-nohb',
      sourceDsn: db.dsn,
      slot: 'ops_nohb',
      publication: 'ops_nohb',
      tables: ['public.quiet'],
      destinations: [{ name: 'wh', type: 'duckdb', options: { dsn: join(dir, 'nohb.duckdb') } }],
      sourceOptions: { heartbeat_interval: '0', status_interval: '500ms' },
    });
    await api.call('CreateFlow', { flow, start_immediately: true });
    await waitFor('flow streaming', async () => (await status('ops-nohb')).checkpoint_lsn !== '');
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await db.query(`INSERT INTO public.busy (v) SELECT repeat('b', 100) FROM generate_series(1, 200)`);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      // Ten intervals of the 500ms heartbeat of the test above; stats are published every 2 s.
      await new Promise((r) => setTimeout(r, 5000));
    } finally {
      writing = false;
      await writer;
    }
    const st = await status('ops-nohb');
    expect(st.state).toBe('running');
    const decoded = await db.query<{ data: string }>(`SELECT data FROM pg_logical_slot_peek_changes('ops_nohb_probe', NULL, NULL)`);
    expect(decoded.filter((r) => r.data.includes('public.busy')).length).toBeGreaterThan(200);
    expect(decoded.filter((r) => r.data.includes('ductstream_heartbeat'))).toEqual([]);
    expect(st.heartbeat_lsn).toBe('');
  } finally {
    await api.call('DeleteFlow', { flow_id: 'ops-nohb', drop_slot: true }).catch(() => undefined);
    await db.query(`SELECT pg_drop_replication_slot('ops_nohb_probe')`).catch(() => undefined);
    await db.drop();
  }
});

test('the status page shows a state change within its refresh interval, and the flow page its lag chart', async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  const page = await browser.newPage();
  await page.goto(`${http}/`);
  const cell = page.locator('tr[data-flow="ops-lag"] td[data-field="state"]');
  await cell.waitFor();
  expect(await cell.textContent()).toBe('running');
  const rows = Number(await page.locator('tr[data-flow="ops-lag"] td[data-field="rows_total"]').textContent());
  expect(rows).toBe(3110);
  await api.call('PauseFlow', { flow_id: 'ops-lag' });
  const paused = Date.now();
  await page.locator('tr[data-flow="ops-lag"] td[data-field="state"]', { hasText: /^paused$/ }).waitFor({ timeout: 5000 });
  expect(Date.now() - paused).toBeLessThan(2000 + 1500); // REFRESH_MS of web/app.js plus one request
  await insertItems(10_000, 3000);
  await page.locator('tr[data-flow="ops-lag"] td[data-field="alarms"]', { hasText: 'lag_bytes' }).waitFor({ timeout: 10_000 });
  await page.goto(`${http}/flow?id=ops-lag`);
  await page.locator('.alarm[data-alarm="lag_bytes"]').waitFor({ timeout: 5000 });
  await page.locator('dd[data-field="state"]').waitFor();
  expect(await page.locator('dd[data-field="state"]').textContent()).toBe('paused');
  const points = Number(await page.locator('#lag-chart').getAttribute('data-points'));
  expect(points).toBeGreaterThan(3);
  expect(await page.locator('#tables tbody tr').count()).toBe(2);
  expect(await page.locator('#runs details').count()).toBeGreaterThan(0);
  await api.call('ResumeFlow', { flow_id: 'ops-lag' });
});

test('a span per flow run and step reaches the OTLP receiver', async () => {
  const spans = await waitFor('spans', async () => {
    const names = new Set(otlp.spans.map((s) => s.name));
    if (process.env.OPS_DEBUG) process.stderr.write(`spans: ${[...names].join(',')} logs: ${otlp.logRecords}\n`);
    return names.has('flowRun') && names.has('deliverBatch') && names.has('commitCheckpoint') ? otlp.spans : null;
  });
  const run = spans.find((s) => s.name === 'flowRun')!;
  expect(JSON.stringify(run.attributes)).toContain('flowrun-ops-');
  expect(otlp.logRecords).toBeGreaterThan(0);
});

test("DuctStream's own log lines reach the OTLP receiver with their severity and fields", async () => {
  const served = await waitFor('log records', async () => otlp.logs.find((l) => l.body.startsWith('serving gRPC on ')) ?? null);
  expect(served.severity).toBe('INFO');
  expect(Object.keys(served.attributes)).toEqual(expect.arrayContaining(['service.name', 'executor', 'queue']));
  // One record per line, severity kept: nothing of ours arrives as a captured ERROR copy of stderr.
  expect(otlp.logs.filter((l) => l.body.includes('serving gRPC on'))).toHaveLength(1);
  expect(otlp.logs.some((l) => l.severity === 'ERROR' && /\bINFO\b/.test(l.body))).toBe(false);
});
