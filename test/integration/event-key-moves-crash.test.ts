/**
 * Crash test for key moves on event destinations: the worker binary is killed with SIGKILL between
 * the two writes of a DEFERRABLE-key swap (the first half delivered to Kafka and the webhook, the
 * second half's webhook request held by the peer), then restarted. The transaction is replayed from
 * its start by a new process whose key-move tracker knows nothing of the first; the Kafka topic read
 * back as log compaction keeps it (last record per key, tombstones removed) and a webhook consumer
 * upserting and deleting by key in arrival order must both hold exactly the source rows: nothing
 * lost, no ghost row. Real parts: the private PostgreSQL, the kcat mock broker, a Node HTTP server.
 */
import { compactedTopic, sorted, webhookRows } from '../support/eventViews';
import { caughtUpRunner, idValueRow, useEventKeyFixture } from '../support/eventKeyFixture';
import { testFlow, writeFlowFile } from '../support/flows';
import { spawnBin, WORKER_BIN } from '../support/worker';

interface Event {
  op: string;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
}

const f = useEventKeyFixture('emcrash');
const row = idValueRow;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const eventOf = (body: Buffer): Event => JSON.parse(body.toString()) as Event;
/** An update event of the swap of keys 1 and 2 (a row moved from one of them to the other). */
const swapHalf = (e: Event): boolean =>
  e.op === 'update' && e.before != null && e.after != null && [1, 2].includes(Number(e.before.id)) && e.before.id !== e.after.id;

test('kill -9 between the two writes of a key swap, restart: compacted topic and webhook rows equal the source', async () => {
  const { broker, peer, source, state, dir } = f;
  await source.query('CREATE TABLE public.kc (id int PRIMARY KEY DEFERRABLE INITIALLY IMMEDIATE, v text)');
  await source.query('ALTER TABLE public.kc REPLICA IDENTITY FULL');
  const flow = testFlow({
    id: 'emcrash',
    sourceDsn: source.dsn,
    slot: 'emcrash_slot',
    publication: 'emcrash_pub',
    tables: ['public.kc'],
    sourceOptions: { batch_size: '3' },
    destinations: [
      // Written in this order (parallelism 1): the held webhook request stops the second write
      // before it reaches Kafka.
      { name: 'hook', type: 'http', options: { url: `${peer.url}/hook`, timeout: '120s' } },
      { name: 'bus', type: 'kafka', options: { brokers: broker.bootstrap, topic: 'emcrash.{table}' } },
    ],
  });
  const env = { DUCTSTREAM_POSTGRES_DSN: state.dsn, DUCTSTREAM_MAX_WRITE_ROWS: '3' };
  const run = caughtUpRunner(f);
  await run(['-flow-file', writeFlowFile(dir, flow)]);
  await source.query(`INSERT INTO public.kc SELECT g, 'v' || g FROM generate_series(1, 8) g`);
  await source.query(`INSERT INTO public.kc SELECT g, 'filler ' || g FROM generate_series(20, 21) g`);
  await run(['-flow-id', 'emcrash']);

  // One transaction: two filler updates, so the first write (3 changes) ends after the swap's
  // first half; then a cycle, and a row moved into a held key whose holder is deleted.
  await source.query(`BEGIN; SET CONSTRAINTS ALL DEFERRED;
    UPDATE public.kc SET v = v || '+' WHERE id = 20;
    UPDATE public.kc SET v = v || '+' WHERE id = 21;
    UPDATE public.kc SET id = CASE id WHEN 1 THEN 2 WHEN 2 THEN 1 END WHERE id IN (1, 2);
    UPDATE public.kc SET id = CASE id WHEN 3 THEN 4 WHEN 4 THEN 5 WHEN 5 THEN 3 END WHERE id IN (3, 4, 5);
    UPDATE public.kc SET id = 7 WHERE id = 6; DELETE FROM public.kc WHERE v = 'v7';
    COMMIT`);
  await source.query(`UPDATE public.kc SET id = CASE id WHEN 7 THEN 8 WHEN 8 THEN 7 END WHERE id IN (7, 8)`);

  // The peer holds the request of the swap's second half (the second write); the worker is killed then.
  let halves = 0;
  let held = false;
  peer.setPolicy((req) => {
    if (req.path !== '/hook' || !swapHalf(eventOf(req.body)) || ++halves !== 2) return undefined;
    held = true;
    return { delayMs: 10_000 };
  });
  const worker = spawnBin(WORKER_BIN, ['-flow-id', 'emcrash'], env);
  for (let i = 0; i < 1200 && !held; i++) await sleep(50);
  expect(held).toBe(true);
  worker.child.kill('SIGKILL');
  expect((await worker.exited).signal).toBe('SIGKILL');
  peer.setPolicy(undefined);

  // Killed between the swap's two writes: Kafka got the first half only; the webhook the first
  // half and the held request of the second (a consumer may have seen it: at least once).
  const hook = peer.delivered('/hook').map((r) => eventOf(r.body));
  expect(hook.filter(swapHalf)).toHaveLength(2);
  const topicBefore = (await broker.readTopic('emcrash.kc')).filter((r) => r.value !== null).map((r) => eventOf(r.value!));
  expect(topicBefore.filter(swapHalf)).toHaveLength(1);
  expect(await compactedTopic(broker, 'emcrash.kc', row)).not.toContain('1|v2');

  expect(await run(['-flow-id', 'emcrash'])).toContain('resuming an interrupted run');
  // The replay sent the transaction again from its start.
  expect(
    peer
      .delivered('/hook')
      .map((r) => eventOf(r.body))
      .filter(swapHalf).length,
  ).toBeGreaterThanOrEqual(4);

  const src = sorted((await source.query<{ id: number; v: string }>('SELECT id, v FROM public.kc')).map(row));
  expect(src).toEqual(['1|v2', '2|v1', '3|v5', '4|v3', '5|v4', '7|v8', '8|v6', '20|filler 20+', '21|filler 21+']);
  expect(await compactedTopic(broker, 'emcrash.kc', row)).toEqual(src);
  expect(webhookRows(peer, '/hook', 'id', row)).toEqual(src);
}, 600_000);
