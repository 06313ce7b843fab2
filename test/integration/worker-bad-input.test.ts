/**
 * Bad input to the worker: one line naming the field or flag and the fix, exit code 2 for misuse,
 * nothing stored or created, and never a password.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startLocalCluster, type LocalCluster } from '../../tools/localpg';
import { testFlow, writeFlowFile } from '../support/flows';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let dir: string;

beforeAll(async () => {
  source = await createTestDatabase('badin_src');
  state = await createTestDatabase('badin_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-badin-'));
  await source.query('CREATE TABLE public.t (id int PRIMARY KEY)');
});

afterAll(async () => {
  await source.drop();
  await state.drop();
  rmSync(dir, { recursive: true, force: true });
});

const env = () => ({ DUCTSTREAM_POSTGRES_DSN: state.dsn });

function flowWith(id: string, patch: (f: Record<string, any>) => void): string {
  const f = testFlow({
    id,
    sourceDsn: source.dsn,
    slot: `${id}_slot`,
    publication: `${id}_pub`,
    tables: ['public.t'],
    destinations: [{ name: 'd', type: 'duckdb', options: { dsn: join(dir, `${id}.duckdb`) } }],
  }) as Record<string, any>;
  patch(f);
  return writeFlowFile(dir, f);
}

async function storedFlows(): Promise<string[]> {
  const rows = await state.query<{ id: string }>(`SELECT id FROM ductstream.flows ORDER BY id`).catch(() => []);
  return rows.map((r) => r.id);
}

function lastLine(stderr: string): string {
  return stderr.trim().split('\n').pop()!;
}

describe('ductstream-worker bad input', () => {
  it.each([
    [[], /-flow-id or -flow-file is required/],
    [['-flow-id', 'x', '-start-lsn', '12/zz'], /flag -start-lsn: "12\/zz" is not an LSN; use two hex numbers X\/Y/],
    [['-flow-id', 'x', '-max-empty-reads', '-1'], /flag -max-empty-reads: -1 is below the minimum 0/],
    [['-flow-id', 'x', '-max-empty-read', '1'], /unknown flag -max-empty-read/],
    [['-flow-id', 'x', '-mode', 'turbo'], /flag -mode: "turbo" is not a mode/],
  ])('%j → exit 2', async (args, message) => {
    const r = await runWorker(args, env());
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toMatch(message);
  });

  it.each([
    [
      'unknown destination type',
      (f: Record<string, any>) => (f.destinations[0].type = 'warp'),
      /destinations\[0\]\.type: unknown destination type "warp" \(use one of: .*duckdb/,
    ],
    ['missing slot', (f: Record<string, any>) => delete f.source.options.slot, /source\.options\.slot: is required/],
    ['missing publication', (f: Record<string, any>) => delete f.source.options.publication, /source\.options\.publication: is required/],
    ['missing dsn', (f: Record<string, any>) => delete f.source.options.dsn, /source\.options\.dsn: is required/],
    ['missing duckdb dsn', (f: Record<string, any>) => delete f.destinations[0].options.dsn, /destinations\[0\]\.options\.dsn: is required/],
    ['bad batch_size', (f: Record<string, any>) => (f.source.options.batch_size = 'abc'), /source\.options\.batch_size: "abc" is not an integer/],
    [
      'unknown wire format',
      (f: Record<string, any>) => (f.wire_format = 'xml'),
      /wire_format: unknown wire format "xml" \(use one of: json, arrow, parquet, avro, proto\)/,
    ],
    ['negative parallelism', (f: Record<string, any>) => (f.parallelism = -2), /parallelism: -2 is not allowed/],
  ])('flow file with %s → exit 2, field named, nothing stored', async (name, patch, message) => {
    const id = `bad_${String(name).replace(/\W+/g, '_')}`;
    const r = await runWorker(['-flow-file', flowWith(id, patch)], env());
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toMatch(message);
    expect(await storedFlows()).not.toContain(id);
  });

  it('malformed JSON and a missing file are usage errors', async () => {
    const path = join(dir, 'broken.json');
    writeFileSync(path, '{"id": "x",');
    const r = await runWorker(['-flow-file', path], env());
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toMatch(/flag -flow-file: .*broken.json is not valid JSON/);
    const m = await runWorker(['-flow-file', join(dir, 'nope.json')], env());
    expect(m.code).toBe(2);
    expect(lastLine(m.stderr)).toMatch(/cannot read .*nope.json: ENOENT/);
  });

  it('-flow-id without DUCTSTREAM_POSTGRES_DSN says where flows live', async () => {
    const r = await runWorker(['-flow-id', 'x'], { DUCTSTREAM_POSTGRES_DSN: '' });
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toMatch(/-flow-id needs DUCTSTREAM_POSTGRES_DSN/);
  });

  it('an unknown flow id is reported', async () => {
    const r = await runWorker(['-flow-id', 'no-such-flow'], env());
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toMatch(/flow "no-such-flow" does not exist/);
  });

  it('an unreachable source names the option, hides the password and stores nothing', async () => {
    const path = flowWith('unreachable', (f) => (f.source.options.dsn = 'postgres://app:hunter2@127.0.0.1:1/nowhere'));
    const r = await runWorker(['-flow-file', path], env());
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toMatch(/source\.options\.dsn/);
    expect(r.stderr).not.toContain('hunter2');
    expect(await storedFlows()).not.toContain('unreachable');
  });

  it('an unreachable destination fails at once, names the destination option, and stores nothing', async () => {
    const path = flowWith(
      'deadhook',
      (f) => (f.destinations = [{ name: 'hook', type: 'http', options: { url: 'http://127.0.0.1:1/hook', headers: 'Authorization:Bearer sekret-token' } }]),
    );
    const started = Date.now();
    const r = await runWorker(['-flow-file', path], env());
    expect(r.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(lastLine(r.stderr)).toMatch(/destinations\[0\]\.options\.url/);
    expect(r.stderr).not.toContain('sekret-token');
    expect(await storedFlows()).not.toContain('deadhook');
  });

  describe('a source without wal_level=logical', () => {
    let replica: LocalCluster;
    beforeAll(async () => {
      replica = await startLocalCluster({ settings: { wal_level: 'replica' } });
    });
    afterAll(async () => replica.stop());

    it('fails with the setting and the fix, and creates no publication or slot', async () => {
      const c = new Client(replica.dsn());
      await c.connect();
      await c.query('CREATE TABLE public.t (id int PRIMARY KEY)');
      const path = flowWith('replica_wal', (f) => (f.source.options.dsn = replica.dsn()));
      const r = await runWorker(['-flow-file', path], env());
      expect(r.code).toBe(1);
      expect(lastLine(r.stderr)).toMatch(/wal_level.*logical/);
      const pubs = await c.query('SELECT count(*)::int AS n FROM pg_publication');
      const slots = await c.query('SELECT count(*)::int AS n FROM pg_replication_slots');
      await c.end();
      expect(pubs.rows[0].n).toBe(0);
      expect(slots.rows[0].n).toBe(0);
      const [flow] = await state.query<{ state: string; state_reason: string }>(`SELECT state, state_reason FROM ductstream.flows WHERE id = 'replica_wal'`);
      expect(flow!.state).toBe('failed');
      expect(flow!.state_reason).toMatch(/wal_level/);
    });
  });
});
