/**
 * Swaps and cycles of a DEFERRABLE primary key on event destinations when a transaction's key
 * moves are cut across writes (`batch_size` 3, writes of at most 3 changes): the worker binary,
 * the real private PostgreSQL, the kcat mock Kafka broker and a Node HTTP server. The Kafka topic
 * read back as log compaction keeps it (last record per key, tombstones removed), and a webhook
 * consumer upserting and deleting by key in arrival order, must both hold exactly the source rows.
 */
import { caughtUpRunner, idValueRow, useEventKeyFixture } from '../support/eventKeyFixture';
import { testFlow, writeFlowFile } from '../support/flows';

interface Event {
  op: string;
  key?: Record<string, unknown>;
  after?: Record<string, unknown> | null;
}

const f = useEventKeyFixture('eswap');
const row = idValueRow;

test('kafka and http: swaps and cycles cut across writes leave exactly the source rows', async () => {
  const { broker, peer, source, dir } = f;
  await source.query('CREATE TABLE public.sw (id int PRIMARY KEY DEFERRABLE INITIALLY IMMEDIATE, v text)');
  await source.query('ALTER TABLE public.sw REPLICA IDENTITY FULL');
  const flow = testFlow({
    id: 'eswap',
    sourceDsn: source.dsn,
    slot: 'eswap_slot',
    publication: 'eswap_pub',
    tables: ['public.sw'],
    sourceOptions: { batch_size: '3' },
    destinations: [
      { name: 'bus', type: 'kafka', options: { brokers: broker.bootstrap, topic: 'eswap.{table}' } },
      { name: 'hook', type: 'http', options: { url: `${peer.url}/hook` } },
    ],
  });
  const run = caughtUpRunner(f);
  await run(['-flow-file', writeFlowFile(dir, flow)]);
  await source.query(`INSERT INTO public.sw SELECT g, 'v' || g FROM generate_series(1, 12) g`);
  await source.query(`INSERT INTO public.sw SELECT g, 'filler ' || g FROM generate_series(20, 21) g`);
  // Filler updates shift the cuts, so the swaps' two halves fall into different writes at every offset.
  await source.query(`BEGIN;
    UPDATE public.sw SET v = v || '+' WHERE id = 20;
    UPDATE public.sw SET id = CASE id WHEN 1 THEN 2 WHEN 2 THEN 1 END WHERE id IN (1, 2);
    UPDATE public.sw SET id = CASE id WHEN 3 THEN 4 WHEN 4 THEN 3 END WHERE id IN (3, 4);
    UPDATE public.sw SET v = v || '+' WHERE id = 21;
    UPDATE public.sw SET id = CASE id WHEN 5 THEN 6 WHEN 6 THEN 5 END WHERE id IN (5, 6);
    UPDATE public.sw SET id = CASE id WHEN 7 THEN 8 WHEN 8 THEN 9 WHEN 9 THEN 7 END WHERE id IN (7, 8, 9);
    UPDATE public.sw SET id = 100, v = 'away' WHERE id = 10;
    UPDATE public.sw SET id = 10, v = 'back' WHERE id = 100;
    COMMIT`);
  await source.query(`UPDATE public.sw SET id = CASE id WHEN 11 THEN 12 WHEN 12 THEN 11 END WHERE id IN (11, 12)`);
  await source.query(`BEGIN;
    UPDATE public.sw SET id = CASE id WHEN 1 THEN 2 WHEN 2 THEN 1 END WHERE id IN (1, 2);
    UPDATE public.sw SET v = v || '!' WHERE id = 20;
    UPDATE public.sw SET id = CASE id WHEN 1 THEN 2 WHEN 2 THEN 1 END WHERE id IN (1, 2);
    COMMIT`);
  await run(['-flow-id', 'eswap']);

  const src = (await source.query<{ id: number; v: string }>('SELECT id, v FROM public.sw ORDER BY id')).map(row);
  expect(src).toHaveLength(14);

  const last = new Map<string, Buffer | null>();
  for (const r of await broker.readTopic('eswap.sw')) last.set(r.key!.toString(), r.value); // per key: one partition, offset order
  const compacted = [...last.values()]
    .filter((v): v is Buffer => v !== null)
    .map((v) => JSON.parse(v.toString()) as Event)
    .filter((e) => e.op !== 'delete')
    .map((e) => row(e.after!));
  expect(compacted.sort((a, b) => parseInt(a) - parseInt(b))).toEqual(src);

  const rows = new Map<string, string>();
  for (const req of peer.delivered('/hook')) {
    const e = JSON.parse(req.body.toString()) as Event;
    if (e.op === 'delete') rows.delete(String(e.key!.id));
    else rows.set(String(e.after!.id), row(e.after!));
  }
  expect([...rows.values()].sort((a, b) => parseInt(a) - parseInt(b))).toEqual(src);
}, 600_000);
