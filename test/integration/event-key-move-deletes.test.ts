/**
 * Delete changes next to key moves of a DEFERRABLE primary key, inside one transaction, on event
 * destinations: the worker binary, the real private PostgreSQL, the kcat mock Kafka broker and a
 * Node HTTP server, with `batch_size` 3 and writes of at most 3 changes so the transactions are cut
 * across writes. A row A moved (or inserted) into key K while B still held it, then B deleted, must
 * leave A at K; the mirror orders (B deleted first; A moved on from K before B is deleted) too. The
 * Kafka topic read back as log compaction keeps it (last record per key, tombstones removed), and a
 * webhook consumer upserting and deleting by key in arrival order, must hold exactly the source rows.
 */
import { compactedTopic, sorted, webhookRows } from '../support/eventViews';
import { caughtUpRunner, idValueRow, useEventKeyFixture } from '../support/eventKeyFixture';
import { testFlow, writeFlowFile } from '../support/flows';

const f = useEventKeyFixture('emdel');
const row = idValueRow;

test('kafka and http: a delete of the row that held a key another row moved into leaves that row', async () => {
  const { broker, peer, source, dir } = f;
  await source.query('CREATE TABLE public.md (id int PRIMARY KEY DEFERRABLE INITIALLY IMMEDIATE, v text)');
  await source.query('ALTER TABLE public.md REPLICA IDENTITY FULL');
  const flow = testFlow({
    id: 'emdel',
    sourceDsn: source.dsn,
    slot: 'emdel_slot',
    publication: 'emdel_pub',
    tables: ['public.md'],
    sourceOptions: { batch_size: '3' },
    destinations: [
      { name: 'bus', type: 'kafka', options: { brokers: broker.bootstrap, topic: 'emdel.{table}' } },
      { name: 'hook', type: 'http', options: { url: `${peer.url}/hook` } },
    ],
  });
  const run = caughtUpRunner(f);
  await run(['-flow-file', writeFlowFile(dir, flow)]);
  await source.query(`INSERT INTO public.md SELECT g, 'v' || g FROM generate_series(1, 12) g`);
  await source.query(`INSERT INTO public.md VALUES (20, 'filler')`);
  // Each block once as its own transaction and once (on rows at keys + 100) shifted by a filler
  // update, so the cuts between writes (3 changes) fall at other points of it. The key's check is
  // deferred to the commit: a key holds two rows for a while.
  const blocks = [
    // A (1) moves into 2 while B holds it; B is deleted: 2 holds A.
    (o: number) => `UPDATE public.md SET id = ${o + 2} WHERE id = ${o + 1}; DELETE FROM public.md WHERE v = 'v2' AND id = ${o + 2};`,
    // Mirror: B (4) deleted first, then A (3) moves into 4.
    (o: number) => `DELETE FROM public.md WHERE id = ${o + 4}; UPDATE public.md SET id = ${o + 4} WHERE id = ${o + 3};`,
    // A (5) moves into 6, then on to 60; then B at 6 is deleted: 6 is empty.
    (o: number) =>
      `UPDATE public.md SET id = ${o + 6} WHERE id = ${o + 5}; UPDATE public.md SET id = ${o + 60} WHERE v = 'v5' AND id = ${o + 6};
       DELETE FROM public.md WHERE id = ${o + 6};`,
    // A row inserted at 8 while B holds it; B is deleted: 8 holds the new row.
    (o: number) => `INSERT INTO public.md VALUES (${o + 8}, 'new8'); DELETE FROM public.md WHERE v = 'v8' AND id = ${o + 8};`,
    // A swap 9 <-> 10, then the row now at 9 is deleted; and 11 moved into 12 with B at 12 deleted.
    (o: number) =>
      `UPDATE public.md SET id = CASE id WHEN ${o + 9} THEN ${o + 10} ELSE ${o + 9} END WHERE id IN (${o + 9}, ${o + 10});
       DELETE FROM public.md WHERE id = ${o + 9};
       UPDATE public.md SET id = ${o + 12} WHERE id = ${o + 11}; DELETE FROM public.md WHERE v = 'v12' AND id = ${o + 12};`,
  ];
  for (const b of blocks) await source.query(`BEGIN; SET CONSTRAINTS ALL DEFERRED; ${b(0)} COMMIT`);
  await source.query(`INSERT INTO public.md SELECT g + 100, 'v' || g FROM generate_series(1, 12) g`);
  for (const b of blocks) await source.query(`BEGIN; SET CONSTRAINTS ALL DEFERRED; UPDATE public.md SET v = v || '+' WHERE id = 20; ${b(100)} COMMIT`);
  await run(['-flow-id', 'emdel']);

  const src = sorted((await source.query<{ id: number; v: string }>('SELECT id, v FROM public.md ORDER BY id')).map(row));
  expect(src).toContain('2|v1');
  expect(src).toContain('8|new8');
  expect(src).toContain('102|v1');
  expect(src.filter((r) => r.startsWith('6|') || r.startsWith('106|'))).toEqual([]);
  expect(src).toHaveLength(2 * 7 + 1);
  expect(await compactedTopic(broker, 'emdel.md', row)).toEqual(src);
  expect(webhookRows(peer, '/hook', 'id', row)).toEqual(src);
}, 600_000);

test('kafka and http: a row moved into a held key and out again, and a swap of equal rows, leave the key its row', async () => {
  const { broker, peer, source, dir } = f;
  await source.query('CREATE TABLE public.mo (id int PRIMARY KEY DEFERRABLE INITIALLY IMMEDIATE, v text)');
  await source.query('ALTER TABLE public.mo REPLICA IDENTITY FULL');
  const flow = testFlow({
    id: 'emout',
    sourceDsn: source.dsn,
    slot: 'emout_slot',
    publication: 'emout_pub',
    tables: ['public.mo'],
    sourceOptions: { batch_size: '3' },
    destinations: [
      { name: 'bus', type: 'kafka', options: { brokers: broker.bootstrap, topic: 'emout.{table}' } },
      { name: 'hook', type: 'http', options: { url: `${peer.url}/out` } },
    ],
  });
  const run = caughtUpRunner(f);
  await run(['-flow-file', writeFlowFile(dir, flow)]);
  const rows = (o: number): string =>
    `INSERT INTO public.mo VALUES (${o + 1}, 'same'), (${o + 2}, 'same'), (${o + 3}, 'a'), (${o + 4}, 'b'), (${o + 5}, 'c'), (${o + 6}, 'd'),
      (${o + 7}, 'e'), (${o + 8}, 'f'), (${o + 10}, 'g')`;
  const blocks = [
    // Two rows equal but for the key swapped: both stay.
    (o: number) => `UPDATE public.mo SET id = CASE id WHEN ${o + 1} THEN ${o + 2} ELSE ${o + 1} END WHERE id IN (${o + 1}, ${o + 2});`,
    // A (3) moves into 4 while B holds it, then on to 40: 4 keeps B.
    (o: number) => `UPDATE public.mo SET id = ${o + 4} WHERE id = ${o + 3}; UPDATE public.mo SET id = ${o + 40} WHERE id = ${o + 4} AND v = 'a';`,
    // A (5) moves into 6 while B holds it, then back: both stay.
    (o: number) => `UPDATE public.mo SET id = ${o + 6} WHERE id = ${o + 5}; UPDATE public.mo SET id = ${o + 5} WHERE id = ${o + 6} AND v = 'c';`,
    // A row inserted at 7 while B holds it, then that row deleted: 7 keeps B.
    (o: number) => `INSERT INTO public.mo VALUES (${o + 7}, 'x'); DELETE FROM public.mo WHERE id = ${o + 7} AND v = 'x';`,
    // Moved into a free key and back, and on from there: the free key ends empty.
    (o: number) =>
      `UPDATE public.mo SET id = ${o + 90} WHERE id = ${o + 10}; UPDATE public.mo SET id = ${o + 10} WHERE id = ${o + 90};
       UPDATE public.mo SET id = ${o + 91} WHERE id = ${o + 8}; UPDATE public.mo SET id = ${o + 92} WHERE id = ${o + 91};`,
  ];
  await source.query(rows(0));
  for (const b of blocks) await source.query(`BEGIN; SET CONSTRAINTS ALL DEFERRED; ${b(0)} COMMIT`);
  await source.query(`INSERT INTO public.mo VALUES (20, 'filler')`);
  await source.query(rows(100));
  await source.query(`BEGIN; SET CONSTRAINTS ALL DEFERRED; UPDATE public.mo SET v = v || '+' WHERE id = 20; ${blocks.map((b) => b(100)).join('\n')} COMMIT`);
  const log = await run(['-flow-id', 'emout']);

  const src = sorted((await source.query<{ id: number; v: string }>('SELECT id, v FROM public.mo')).map(row));
  expect(src).toEqual(
    sorted(
      [0, 100]
        .flatMap((o) => [`${o + 1}|same`, `${o + 2}|same`, `${o + 4}|b`, `${o + 40}|a`, `${o + 5}|c`, `${o + 6}|d`, `${o + 7}|e`, `${o + 92}|f`, `${o + 10}|g`])
        .concat('20|filler+'),
    ),
  );
  expect(await compactedTopic(broker, 'emout.mo', row)).toEqual(src);
  expect(webhookRows(peer, '/out', 'id', row)).toEqual(src);
  expect(log).toContain('were read from the source');
}, 600_000);

test('kafka and http: the row that held a key, updated in place there after another row moved in, then leaving, leaves that row', async () => {
  const { broker, peer, source, dir } = f;
  await source.query('CREATE TABLE public.mi (id int PRIMARY KEY DEFERRABLE INITIALLY IMMEDIATE, v text)');
  await source.query('ALTER TABLE public.mi REPLICA IDENTITY FULL');
  const flow = testFlow({
    id: 'eminp',
    sourceDsn: source.dsn,
    slot: 'eminp_slot',
    publication: 'eminp_pub',
    tables: ['public.mi'],
    sourceOptions: { batch_size: '3' },
    destinations: [
      { name: 'bus', type: 'kafka', options: { brokers: broker.bootstrap, topic: 'eminp.{table}' } },
      { name: 'hook', type: 'http', options: { url: `${peer.url}/inp` } },
    ],
  });
  const run = caughtUpRunner(f);
  await run(['-flow-file', writeFlowFile(dir, flow)]);
  const rows = (o: number): string =>
    `INSERT INTO public.mi VALUES (${o + 1}, 'a'), (${o + 2}, 'b'), (${o + 3}, 'c'), (${o + 4}, 'd'), (${o + 5}, 'e'), (${o + 6}, 'f')`;
  const blocks = [
    // A (1) moves into 2 while B holds it; B is updated in place at 2, then deleted: 2 holds A.
    (o: number) =>
      `UPDATE public.mi SET id = ${o + 2} WHERE id = ${o + 1}; UPDATE public.mi SET v = 'b2' WHERE id = ${o + 2} AND v = 'b';
       DELETE FROM public.mi WHERE id = ${o + 2} AND v = 'b2';`,
    // The same, B moving on to 30 instead: 4 holds A (3), 30 holds B.
    (o: number) =>
      `UPDATE public.mi SET id = ${o + 4} WHERE id = ${o + 3}; UPDATE public.mi SET v = 'd2' WHERE id = ${o + 4} AND v = 'd';
       UPDATE public.mi SET id = ${o + 30} WHERE id = ${o + 4} AND v = 'd2';`,
    // B (6) updated in place first, then A (5) moves into 6 and on to 50: 6 holds B.
    (o: number) =>
      `UPDATE public.mi SET v = 'f2' WHERE id = ${o + 6}; UPDATE public.mi SET id = ${o + 6} WHERE id = ${o + 5};
       UPDATE public.mi SET id = ${o + 50} WHERE id = ${o + 6} AND v = 'e';`,
  ];
  await source.query(rows(0));
  for (const b of blocks) await source.query(`BEGIN; SET CONSTRAINTS ALL DEFERRED; ${b(0)} COMMIT`);
  await source.query(`INSERT INTO public.mi VALUES (20, 'filler')`);
  await source.query(rows(100));
  await source.query(`BEGIN; SET CONSTRAINTS ALL DEFERRED; UPDATE public.mi SET v = v || '+' WHERE id = 20; ${blocks.map((b) => b(100)).join('\n')} COMMIT`);
  const log = await run(['-flow-id', 'eminp']);

  const src = sorted((await source.query<{ id: number; v: string }>('SELECT id, v FROM public.mi')).map(row));
  expect(src).toEqual(sorted([0, 100].flatMap((o) => [`${o + 2}|a`, `${o + 4}|c`, `${o + 30}|d2`, `${o + 6}|f2`, `${o + 50}|e`]).concat('20|filler+')));
  expect(await compactedTopic(broker, 'eminp.mi', row)).toEqual(src);
  expect(webhookRows(peer, '/inp', 'id', row)).toEqual(src);
  expect(log).toContain('were read from the source');
}, 600_000);
