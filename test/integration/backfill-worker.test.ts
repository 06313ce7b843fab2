/**
 * Backfill through the real worker binary (`-mode backfill`), a real PostgreSQL, DuckDB and a
 * pgstream stream: rows are updated, deleted and inserted while the backfill runs, the worker is
 * killed with SIGKILL mid-way and restarted, then the flow streams once; the DuckDB table and the
 * stream's events folded by key both equal the source.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryDuckDbFile } from '../support/duckdbFile';
import { testFlow, writeFlowFile } from '../support/flows';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker, spawnBin, WORKER_BIN } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let events: TestDatabase;
let dir: string;

beforeAll(async () => {
  source = await createTestDatabase('bf_src');
  state = await createTestDatabase('bf_state');
  events = await createTestDatabase('bf_events');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-backfill-'));
  await source.query(`CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy')`);
  await source.query('CREATE TABLE public.users (id bigint PRIMARY KEY, mood public.mood NOT NULL, name text, v int NOT NULL)');
  await source.query(
    `INSERT INTO public.users SELECT g, (ARRAY['sad','ok','happy'])[1 + g % 3]::public.mood, 'user ' || g, g FROM generate_series(1, 30000) g`,
  );
  // Keys of several types, a nullable partition column with NULLs and values whose hashes are negative.
  await source.query('CREATE TABLE public.tags (a text, b uuid, mood public.mood, label text, PRIMARY KEY (a, b))');
  await source.query(`INSERT INTO public.tags SELECT 'k' || (g % 50), md5(g::text)::uuid, CASE WHEN g % 7 = 0 THEN NULL ELSE (ARRAY['sad','ok','happy'])[1 + g % 3]::public.mood END,
                        CASE WHEN g % 5 = 0 THEN NULL ELSE 'label ' || g END FROM generate_series(1, 3000) g`);
  await source.query('CREATE TABLE public.other (id int PRIMARY KEY)');
  await source.query('ANALYZE');
});

afterAll(async () => {
  await source.drop();
  await state.drop();
  await events.drop();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function flowFile(id: string, target: string, extra: Record<string, string> = {}): string {
  return writeFlowFile(
    dir,
    testFlow({
      id,
      sourceDsn: source.dsn,
      slot: `${id}_slot`,
      publication: `${id}_pub`,
      tables: ['public.users', 'public.tags'],
      sourceOptions: { batch_size: '1000', ...extra },
      destinations: [
        { name: 'warehouse', type: 'duckdb', options: { dsn: target } },
        { name: 'events', type: 'pgstream', options: { dsn: events.dsn, stream: id } },
      ],
    }),
  );
}

/** The stream's events folded by key in stream order: read/insert/update set the row, delete removes it. */
async function foldEvents(stream: string, table: string): Promise<Map<string, Record<string, unknown>>> {
  const rows = await events.query<{ op: string; key: string; payload: Buffer }>(
    `SELECT e.op, e.key::text AS key, e.payload FROM ductstream_stream.events e JOIN ductstream_stream.streams s ON s.id = e.stream_id
      WHERE s.name = $1 AND e.table_name = $2 ORDER BY e.id`,
    [stream, table],
  );
  const out = new Map<string, Record<string, unknown>>();
  for (const r of rows) {
    const change = JSON.parse(r.payload.toString('utf8')) as { after: Record<string, unknown> | null };
    if (r.op === 'delete') out.delete(r.key);
    else out.set(r.key, change.after!);
  }
  return out;
}

it('bad input exits 2 naming the flag or option, and starts nothing', async () => {
  const file = flowFile('bfbad', join(dir, 'bad.duckdb'));
  const env = { DUCTSTREAM_POSTGRES_DSN: state.dsn };
  expect((await runWorker(['-flow-file', file, '-max-empty-reads', '1'], env)).code).toBe(0);
  const cases: Array<[string[], RegExp]> = [
    [['-tables', 'public.nope'], /-tables: table public\.nope does not exist/],
    [['-tables', 'public.other'], /-tables: table public\.other is not in publication bfbad_pub/],
    [['-tables', 'public.users', '-partition-column', 'nope'], /-partition-column: column "nope" does not exist in table public\.users/],
    [['-tables', 'public.users', '-partition-count', '0'], /flag -partition-count: 0 is below the minimum 1/],
    [['-tables', 'public.users', '-start-lsn', '0/0'], /flag -start-lsn applies to -mode stream only/],
  ];
  for (const [flags, message] of cases) {
    const r = await runWorker(['-flow-id', 'bfbad', '-mode', 'backfill', ...flags], env);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: expect.stringMatching(message) });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }
  const started = await state.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [`${state.name}_dbos_sys`]);
  if (started.length > 0) {
    const sys = await createClientQuery(`${state.name}_dbos_sys`, `SELECT count(*)::int AS n FROM dbos.workflow_status WHERE name = 'backfill'`);
    expect(sys).toEqual([{ n: 0 }]);
  }
});

async function createClientQuery(db: string, sql: string): Promise<unknown[]> {
  const { Client } = await import('pg');
  const c = new Client(source.dsn.replace(/\/[^/]+$/, `/${db}`));
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

it('backfills while rows change, survives kill -9 mid-way, and with the stream equals the source', async () => {
  const target = join(dir, 'target.duckdb');
  const file = flowFile('bfcrash', target);
  const env = { DUCTSTREAM_POSTGRES_DSN: state.dsn, DUCTSTREAM_BACKFILL_CHUNK_ROWS: '1500', DUCTSTREAM_PROGRESS_INTERVAL: '1' };
  // Store the flow only: the backfill prepares the publication and the slot itself.
  const stored = await runWorker(['-flow-file', file, '-max-empty-reads', '1'], env);
  expect(stored.code).toBe(0);

  let writing = true;
  let resumed = { code: 0 as number | null, stderr: '' };
  const writer = (async () => {
    for (let i = 0; writing; i++) {
      const id = 1 + ((i * 7919) % 30000);
      await source.query(`BEGIN;
        UPDATE public.users SET v = v + 1000000, name = 'changed ' || ${i} WHERE id = ${id};
        DELETE FROM public.users WHERE id = ${1 + ((i * 104729) % 30000)};
        INSERT INTO public.users VALUES (${100000 + i}, 'happy', 'new ${i}', ${i}) ON CONFLICT DO NOTHING;
        UPDATE public.tags SET label = 'relabel ${i}' WHERE a = 'k${i % 50}' AND b = (SELECT b FROM public.tags WHERE a = 'k${i % 50}' ORDER BY b LIMIT 1);
        COMMIT`);
      await sleep(5);
    }
  })();
  writer.catch(() => (writing = false));

  try {
    const worker = spawnBin(
      WORKER_BIN,
      ['-flow-id', 'bfcrash', '-mode', 'backfill', '-tables', 'public.users', '-snapshot-workers', '2', '-partition-column', 'id', '-partition-count', '3'],
      env,
    );
    await worker.waitForStderr(/backfill backfill-bfcrash-\d+ started/, 60_000);
    // Kill once some chunks are durable but the backfill is not done.
    let done = 0;
    for (let i = 0; i < 600; i++) {
      const [r] = await source
        .query<{ n: string | null }>(`SELECT sum(rows_done)::text AS n FROM ductstream.snapshot_state WHERE flow_id = 'bfcrash'`)
        .catch(() => [{ n: null }]);
      done = Number(r?.n ?? 0);
      if (done >= 3000) break;
      await sleep(50);
    }
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(30000);
    worker.child.kill('SIGKILL');
    expect((await worker.exited).signal).toBe('SIGKILL');

    resumed = await runWorker(['-flow-id', 'bfcrash', '-mode', 'backfill', '-tables', 'public.users'], env, 180_000);
    expect(resumed.stderr).toContain("following the flow's active backfill");
    expect(resumed.stderr).toMatch(/exported snapshot is gone|reading under fresh snapshots/);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/public\.users: \d+\/\d+ rows/);

    // Now the tags, partitioned by a nullable enum column, not killed.
    const tags = await runWorker(
      ['-flow-id', 'bfcrash', '-mode', 'backfill', '-tables', 'public.tags', '-partition-column', 'mood', '-partition-count', '4'],
      env,
      120_000,
    );
    expect(tags.code).toBe(0);
    expect(tags.stderr).toMatch(/public\.tags: 3000\/3000 rows \(100%\), partitions 5\/5/);
  } finally {
    writing = false;
    await writer.catch(() => undefined);
  }
  const streamed = await runWorker(['-flow-id', 'bfcrash', '-max-empty-reads', '1'], env, 180_000);
  expect(streamed.code).toBe(0);

  const src = await source.query<{ id: string; mood: string; name: string | null; v: number }>(
    'SELECT id::text AS id, mood::text AS mood, name, v FROM public.users ORDER BY id',
  );
  const dst = await queryDuckDbFile(target, 'SELECT id::VARCHAR AS id, mood::VARCHAR AS mood, name, v FROM public.users ORDER BY id');
  expect(dst.length).toBe(src.length);
  expect(dst).toEqual(src);
  const srcTags = await source.query('SELECT a, b::text AS b, mood::text AS mood, label FROM public.tags ORDER BY a, b');
  const dstTags = await queryDuckDbFile(target, 'SELECT a, b::VARCHAR AS b, mood::VARCHAR AS mood, label FROM public.tags ORDER BY a, b');
  expect(dstTags).toEqual(srcTags);

  // The event destination: snapshot rows as op "read", then the stream; folded by key it equals the source.
  const [reads] = await events.query<{ n: number }>(`SELECT count(*)::int AS n FROM ductstream_stream.events WHERE op = 'read' AND table_name = 'users'`);
  expect(reads!.n).toBeGreaterThanOrEqual(27000);
  // Every snapshot row reached the stream as a "read" event at the snapshot LSN with a negative seq.
  const [bad] = await events.query<{ n: number }>(`SELECT count(*)::int AS n FROM ductstream_stream.events WHERE op = 'read' AND seq >= 0`);
  expect(bad!.n).toBe(0);
  // Folded by key in stream order, the events equal the source, even after the kill -9 (snapshot
  // seqs follow the row's ctid, so a chunk read again under a fresh snapshot never reuses one).
  const folded = await foldEvents('bfcrash', 'users');
  expect([...folded.values()].map((r) => String(r.id)).sort()).toEqual(src.map((r) => r.id).sort());
}, 900_000);
