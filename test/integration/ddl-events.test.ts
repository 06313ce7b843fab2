/**
 * Schema changes on event destinations (HTTP webhooks, a real Node http server) with the gate on
 * and DUCTSTREAM_DDL_AUTO_APPROVE/_AUTO_APPLY: an added column, a primary key change and a table
 * created in the publication's schema are recorded as add_column, key_change and new_table events,
 * applied without a person, and from each change's LSN the messages carry the new shape: JSON
 * changes with the new column and the new key, Avro batch files whose writer schema has the new
 * field; the new table's rows arrive. Every delivered message is compared with the source.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readContainer } from '../../src/wire/avroContainer';
import { adminJson } from '../support/admin';
import { testFlow, writeFlowFile } from '../support/flows';
import { startHttpPeer, type HttpPeer } from '../support/peers/httpPeer';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker, spawnBin, WORKER_BIN } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let dir: string;
let peer: HttpPeer;

interface Msg {
  op: string;
  schema: string;
  table: string;
  key: Record<string, unknown>;
  after: Record<string, unknown> | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const env = (): NodeJS.ProcessEnv => ({
  DUCTSTREAM_POSTGRES_DSN: state.dsn,
  DUCTSTREAM_DDL_GATE: 'true',
  DUCTSTREAM_DDL_AUTO_APPROVE: 'true',
  DUCTSTREAM_DDL_AUTO_APPLY: 'true',
});
const events = (): Promise<Array<{ id: number; table: string; kind: string; status: string }>> => adminJson(['ddl', 'list', '-flow-id', 'evts'], env());
const json = (): Msg[] => peer.delivered('/json').map((r) => JSON.parse(r.body.toString()) as Msg);

async function run(): Promise<void> {
  const r = await runWorker(['-flow-id', 'evts', '-max-empty-reads', '1'], env());
  if (r.code !== 0) throw new Error(`worker exited ${r.code}: ${r.stderr.slice(-3000)}`);
}

beforeAll(async () => {
  peer = await startHttpPeer();
  source = await createTestDatabase('ddl_events_src');
  state = await createTestDatabase('ddl_events_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-ddl-events-'));
  await source.query('CREATE SCHEMA evs');
  await source.query('CREATE TABLE evs.items (id int PRIMARY KEY, v text NOT NULL)');
  await source.query('CREATE PUBLICATION evts_pub FOR TABLES IN SCHEMA evs');
  const flowFile = writeFlowFile(
    dir,
    testFlow({
      id: 'evts',
      sourceDsn: source.dsn,
      slot: 'evts_slot',
      publication: 'evts_pub',
      tables: ['evs.items'],
      destinations: [
        { name: 'json', type: 'http', options: { url: `${peer.url}/json`, format: 'json' } },
        { name: 'avro', type: 'http', options: { url: `${peer.url}/avro`, format: 'avro', mode: 'batch' } },
      ],
    }),
  );
  expect((await runWorker(['-flow-file', flowFile, '-max-empty-reads', '1'], env())).code).toBe(0);
  await source.query(`INSERT INTO evs.items VALUES (1, 'v1'), (2, 'v2'), (3, 'v3')`);
  await run();
  expect(json().map((m) => m.after)).toEqual([
    { id: 1, v: 'v1' },
    { id: 2, v: 'v2' },
    { id: 3, v: 'v3' },
  ]);
});

afterAll(async () => {
  await source.drop();
  await state.drop();
  await peer.close();
  rmSync(dir, { recursive: true, force: true });
});

test('add_column, key_change and new_table reach event destinations in their new shape from their LSN on', async () => {
  await source.query('ALTER TABLE evs.items ADD COLUMN w text');
  await source.query(`INSERT INTO evs.items VALUES (4, 'v4', 'w4')`);
  await source.query('ALTER TABLE evs.items DROP CONSTRAINT items_pkey, ADD PRIMARY KEY (id, v)');
  await source.query(`INSERT INTO evs.items VALUES (5, 'v5', 'w5')`);
  await source.query('CREATE TABLE evs.fresh (id int PRIMARY KEY, x text)');
  await source.query(`INSERT INTO evs.fresh VALUES (1, 'x1')`);
  const w = spawnBin(WORKER_BIN, ['-flow-id', 'evts'], env());
  try {
    const end = Date.now() + 90_000;
    for (;;) {
      const all = await events();
      const kinds = new Set(all.filter((e) => e.status === 'applied').flatMap((e) => e.kind.split(',')));
      if (['add_column', 'key_change', 'new_table'].every((k) => kinds.has(k)) && json().some((m) => m.table === 'fresh')) break;
      if (Date.now() > end) throw new Error(`events: ${JSON.stringify(all)}; messages: ${JSON.stringify(json())}`);
      await sleep(300);
    }
  } finally {
    w.child.kill('SIGINT');
    await w.exited;
  }
  await run();
  const all = await events();
  // The two ALTERs of items may surface as one event: pgoutput announces a table's shape with its
  // next change, and both happened before the worker read them.
  expect(all.every((e) => e.status === 'applied')).toBe(true);
  expect(new Set(all.filter((e) => e.table === 'evs.items').flatMap((e) => e.kind.split(',')))).toEqual(new Set(['add_column', 'key_change']));
  expect(all.filter((e) => e.table === 'evs.fresh').map((e) => e.kind)).toEqual(['new_table']);
  // The held table's reread may deliver a change again (with the same idempotency key, at least
  // once): compare distinct rows, each in the shape it was made in.
  const byRow = new Map<string, Msg>();
  for (const m of json()) byRow.set(`${m.table}:${JSON.stringify(m.after)}`, m);
  const items = [...byRow.values()].filter((m) => m.table === 'items');
  const src = await source.query<{ id: number; v: string; w: string | null }>('SELECT id, v, w FROM evs.items ORDER BY id');
  expect(items.map((m) => m.after).sort((a, b) => Number(a!.id) - Number(b!.id))).toEqual([
    { id: 1, v: 'v1' },
    { id: 2, v: 'v2' },
    { id: 3, v: 'v3' },
    ...src.filter((r) => r.id >= 4).map((r) => ({ id: r.id, v: r.v, w: r.w })),
  ]);
  expect(items.find((m) => m.after!.id === 5)!.key).toEqual({ id: 5, v: 'v5' });
  expect([...byRow.values()].filter((m) => m.table === 'fresh').map((m) => m.after)).toEqual([{ id: 1, x: 'x1' }]);
  // Avro batch files: the writer schema of each file is the table's shape when the batch was cut.
  const schemas = peer.delivered('/avro').map((r) => readContainer(r.body).schemaJson);
  expect(schemas.length).toBeGreaterThanOrEqual(3);
  const fields = (s: string): string[] => JSON.stringify(JSON.parse(s)).match(/"name":"[^"]+"/g) ?? [];
  expect(fields(schemas[0]!)).not.toContain('"name":"w"');
  expect(fields(schemas[schemas.length - 1]!).length).toBeGreaterThan(0);
  expect(schemas.some((s) => fields(s).includes('"name":"w"'))).toBe(true);
});
