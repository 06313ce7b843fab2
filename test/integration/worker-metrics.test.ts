/**
 * `ductstream-worker -metrics-listen`: the worker serves Prometheus /metrics for its flow (rows per
 * table and op, batch durations, state) and publishes its counters, which `ductstream-admin flow
 * status` then reads back without any server. Bad flags exit 2 naming the flag.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminJson, runAdmin } from '../support/admin';
import { waitFor } from '../support/api';
import { testFlow, writeFlowFile } from '../support/flows';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker, spawnBin, WORKER_BIN } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let dir: string;

beforeAll(async () => {
  source = await createTestDatabase('worker_metrics_src');
  state = await createTestDatabase('worker_metrics_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-worker-metrics-'));
  await source.query('CREATE TABLE public.items (id bigint PRIMARY KEY, v text NOT NULL)');
});

afterAll(async () => {
  await source.drop();
  await state.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function metricsText(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

test('serves /metrics for its flow and publishes counters that flow status reads back', async () => {
  const flowFile = writeFlowFile(
    dir,
    testFlow({
      id: 'wm',
      sourceDsn: source.dsn,
      slot: 'wm_slot',
      publication: 'wm_pub',
      tables: ['public.items'],
      destinations: [{ name: 'wh', type: 'duckdb', options: { dsn: join(dir, 'wm.duckdb') } }],
    }),
  );
  const env = { DUCTSTREAM_POSTGRES_DSN: state.dsn, DUCTSTREAM_STATUS_INTERVAL: '1', DBOS__VMID: 'worker-metrics-test' };
  const worker = spawnBin(WORKER_BIN, ['-flow-file', flowFile, '-metrics-listen', '127.0.0.1:0'], env);
  try {
    await worker.waitForStderr(/serving \/metrics on http:\/\/\S+/);
    const url = /serving \/metrics on (http:\/\/\S+)/.exec(worker.output().stderr)![1]!;
    await worker.waitForStderr(/replication started/);
    await source.query(`INSERT INTO public.items SELECT g, 'v' FROM generate_series(1, 7) g`);
    await source.query(`DELETE FROM public.items WHERE id <= 2`);
    const text = await waitFor('row metrics', async () => {
      const t = await metricsText(url);
      return t.includes('ductstream_rows_total{flow="wm",table="public.items",op="insert"} 7') &&
        t.includes('ductstream_rows_total{flow="wm",table="public.items",op="delete"} 2')
        ? t
        : null;
    });
    expect(text).toMatch(/ductstream_batch_duration_seconds_count\{flow="wm"\} [1-9]/);
    expect(text).toContain('ductstream_flow_state{flow="wm",state="running"} 1');
    expect(text).toMatch(/ductstream_slot_retained_wal_bytes\{flow="wm",slot="wm_slot"\} \d+/);
    const s = await adminJson<{ state: string; rows: Array<{ op: string; rows: number }>; rows_total: number; runs: Array<{ steps: unknown[] }> }>(
      ['flow', 'status', '-flow-id', 'wm'],
      env,
    );
    expect(s.state).toBe('running');
    expect(s.rows_total).toBe(9);
    expect(s.rows.find((r) => r.op === 'delete')?.rows).toBe(2);
    expect(s.runs[0]!.steps.length).toBeGreaterThan(0);
  } finally {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
});

test('bad input exits 2 naming the flag', async () => {
  const env = { DUCTSTREAM_POSTGRES_DSN: state.dsn };
  const bad = await runWorker(['-flow-id', 'wm', '-metrics-listen', 'nowhere'], env);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('flag -metrics-listen: "nowhere" is not host:port');
  const unknown = await runAdmin(['flow', 'status', '-flow-id', 'nope'], env);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain('flag -flow-id: flow "nope" does not exist');
});
