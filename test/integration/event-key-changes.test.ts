/**
 * Primary key changes on event destinations, through real peers: the kcat mock Kafka broker and a
 * Node HTTP server. A consumer that keeps the last record per key (Kafka log compaction; a webhook
 * consumer upserting and deleting by key) must end with exactly the live rows: a key change sends
 * a delete of the old key (Kafka: then a tombstone) before the update under the new key.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/destinations';
import { silentLogger } from '../../src/core/log';
import { getDestinationKind } from '../../src/destinations/registry';
import type { Destination } from '../../src/destinations/destination';
import { toEncodedBatch } from '../../src/pipeline/encodedBatch';
import { envelopeOf } from '../../src/wire/envelope';
import { getCodec } from '../../src/wire/registry';
import { canonicalRow, sortedRows } from '../conformance/canonical';
import { materialize } from '../conformance/materialize';
import { ChangeLog, table } from '../support/changes';
import { startHttpPeer, type HttpPeer } from '../support/peers/httpPeer';
import { startKafkaBroker, type KafkaBroker } from '../support/peers/kafkaBroker';
import { testFlow, writeFlowFile } from '../support/flows';
import { createTestDatabase } from '../support/pg';
import { runWorker } from '../support/worker';

const users = table('public.users', { id: 'int8', name: 'text' }, { primaryKey: ['id'] });
const swaps = { ...table('public.swaps', { id: 'int8', name: 'text' }, { primaryKey: ['id'], replicaIdentity: 'full' }), keyDeferrable: true };

let broker: KafkaBroker;
let peer: HttpPeer;

beforeAll(async () => {
  broker = await startKafkaBroker();
  peer = await startHttpPeer();
}, 30_000);

afterAll(async () => {
  await broker?.stop();
  await peer?.close();
});

async function open(type: string, options: Record<string, string>, parallelism = 1): Promise<Destination> {
  const kind = getDestinationKind(type, 'destinations[0].type');
  const dest = await kind.create(kind.parseConfig(options, 'destinations[0].options'), {
    flowId: 'f',
    name: 'd',
    wireFormat: 'json',
    parallelism,
    log: silentLogger,
  });
  await dest.open();
  return dest;
}

/** Inserts, key moves (a chain, a move and back, a re-use of a freed key), a DEFERRABLE swap, deletes. */
async function play(dest: Destination): Promise<ChangeLog> {
  const log = new ChangeLog('f');
  const write = async (): Promise<void> => dest.write(toEncodedBatch(log.batch(), (f) => getCodec(f)));
  log.tx((t) => {
    for (let i = 1n; i <= 6n; i++) t.insert(users, { id: i, name: `u${i}` });
    t.insert(swaps, { id: 1n, name: 'one' }).insert(swaps, { id: 2n, name: 'two' });
  });
  await write();
  log.tx((t) => t.update(users, { id: 10n, name: 'u1 moved' }, { before: { id: 1n } }));
  log.tx((t) => t.update(users, { id: 11n, name: 'u1 moved again' }, { before: { id: 10n } }));
  log.tx((t) => t.update(users, { id: 20n, name: 'away' }, { before: { id: 2n } }).update(users, { id: 2n, name: 'back' }, { before: { id: 20n } }));
  log.tx((t) => t.insert(users, { id: 1n, name: 'new row at a freed key' }).delete(users, { id: 3n }));
  // UPDATE swaps SET id = CASE id WHEN 1 THEN 2 WHEN 2 THEN 1 END (REPLICA IDENTITY FULL: old rows known).
  log.tx((t) =>
    t.update(swaps, { id: 2n, name: 'one' }, { before: { id: 1n, name: 'one' } }).update(swaps, { id: 1n, name: 'two' }, { before: { id: 2n, name: 'two' } }),
  );
  await write();
  log.tx((t) => t.update(users, { id: 40n, name: 'u4 moved' }, { before: { id: 4n } }).delete(users, { id: 5n }));
  await write();
  await dest.close();
  return log;
}

/** The source's rows: users replayed in stream order; swaps as the swap left them (a naive replay would lose row 2). */
function expectedRows(log: ChangeLog, t: typeof users): unknown[] {
  if (t === swaps) return sortedRows([canonicalRow({ id: 1n, name: 'two' }, t), canonicalRow({ id: 2n, name: 'one' }, t)], t);
  return materialize(log.all.filter((c) => c.table.name === t.name).map(envelopeOf), [t]).get(`${t.schema}.${t.name}`)!;
}

test('kafka: the topic read back as log compaction keeps it (last record per key, tombstones removed) holds exactly the live rows', async () => {
  const dest = await open('kafka', { brokers: broker.bootstrap, topic: 'kc.{table}', format: 'json' });
  const log = await play(dest);
  for (const t of [users, swaps]) {
    const records = await broker.readTopic(`kc.${t.name}`);
    const last = new Map<string, Buffer | null>();
    for (const r of records) last.set(r.key!.toString(), r.value); // per key: one partition, offset order
    const live = [...last.values()].filter((v): v is Buffer => v !== null).map((v) => getCodec('json').decodeMessage(v, t));
    expect(live.every((e) => e.op !== 'delete')).toBe(true);
    expect(
      sortedRows(
        live.map((e) => canonicalRow(e.after!, t)),
        t,
      ),
    ).toEqual(expectedRows(log, t));
    // Every delete record of a key is followed by its tombstone.
    const ops = records.map((r) => r.headers.op);
    expect(ops.filter((o) => o === 'tombstone').length).toBe(ops.filter((o) => o === 'delete').length);
  }
});

test('http: a consumer upserting and deleting by key from the requests, in arrival order, ends with exactly the live rows', async () => {
  peer.reset();
  const dest = await open('http', { url: `${peer.url}/hook` }, 4);
  const log = await play(dest);
  for (const t of [users, swaps]) {
    const rows = new Map<string, unknown>();
    for (const req of peer.delivered('/hook')) {
      if (req.headers['x-ductstream-table'] !== `${t.schema}.${t.name}`) continue;
      const e = getCodec('json').decodeMessage(req.body, t);
      const keyOf = (r: Record<string, unknown>): string => String(r.id);
      if (e.op === 'delete') rows.delete(keyOf(e.key));
      else rows.set(keyOf(e.after!), canonicalRow(e.after!, t));
    }
    expect(sortedRows([...rows.values()] as ReturnType<typeof canonicalRow>[], t)).toEqual(expectedRows(log, t));
  }
});

test('kafka through the worker: key changes made in PostgreSQL leave a compacted topic holding exactly the source rows', async () => {
  const source = await createTestDatabase('ekc_src');
  const state = await createTestDatabase('ekc_state');
  const dir = mkdtempSync(join(tmpdir(), 'ductstream-ekc-'));
  try {
    await source.query('CREATE TABLE public.people (id bigint PRIMARY KEY, name text)');
    const file = writeFlowFile(
      dir,
      testFlow({
        id: 'ekc',
        sourceDsn: source.dsn,
        slot: 'ekc_slot',
        publication: 'ekc_pub',
        tables: ['public.people'],
        destinations: [{ name: 'bus', type: 'kafka', options: { brokers: broker.bootstrap, topic: 'ekc.{table}' } }],
      }),
    );
    const env = { DUCTSTREAM_POSTGRES_DSN: state.dsn };
    const run = async (args: string[]): Promise<void> => {
      const r = await runWorker([...args, '-max-empty-reads', '1'], env);
      if (r.code !== 0) throw new Error(`worker exited ${r.code}: ${r.stderr.slice(-3000)}`);
    };
    await run(['-flow-file', file]);
    await source.query(`INSERT INTO public.people SELECT g, 'p' || g FROM generate_series(1, 20) g`);
    await source.query('UPDATE public.people SET id = id + 100 WHERE id % 4 = 0'); // keys move
    await source.query('DELETE FROM public.people WHERE id IN (3, 5)');
    await source.query('UPDATE public.people SET id = 3 WHERE id = 104'); // onto a freed key
    await source.query(`BEGIN; UPDATE public.people SET id = 50 WHERE id = 1; UPDATE public.people SET id = 1 WHERE id = 50; COMMIT`); // moved and back
    await run(['-flow-id', 'ekc']);

    const records = await broker.readTopic('ekc.people');
    const last = new Map<string, Buffer | null>();
    for (const r of records) last.set(r.key!.toString(), r.value);
    const live = [...last.values()].filter((v): v is Buffer => v !== null).map((v) => JSON.parse(v.toString()) as { after: { id: string; name: string } });
    const src = await source.query<{ id: string; name: string }>('SELECT id::text AS id, name FROM public.people ORDER BY people.id');
    expect(live.map((e) => ({ id: String(e.after.id), name: e.after.name })).sort((a, b) => Number(a.id) - Number(b.id))).toEqual(src);
  } finally {
    await source.drop();
    await state.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
