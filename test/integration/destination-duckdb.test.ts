import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Change, Row } from '../../src/core/change';
import { timestampToEpochMicros } from '../../src/core/time';
import { getDestinationKind } from '../../src/destinations';
import { DuctError } from '../../src/core/errors';
import type { DuckdbDestination } from '../../src/destinations/duckdb/destination';
import { duckdbTestKit, queryRows as rows, tableText } from '../support/duckdb';
import { ChangeLog, table } from '../support/changes';

const kit = duckdbTestKit();
const { destination, newFile, dir } = kit;
const users = table('public.users', { id: 'int8', name: 'text', bio: 'text', score: 'numeric(10,2)' }, { primaryKey: ['id'] });

describe('registration and options', () => {
  test('the duckdb kind is registered, writes typed rows and rejects unknown options', () => {
    const kind = getDestinationKind('duckdb', 'destinations[0].type');
    expect(kind.usesWireFormat).toBe(false);
    expect(() => kind.parseConfig({ dsn: 'x.duckdb', tabel: 'y' }, 'destinations[2].options')).toThrow('destinations[2].options.tabel: is not a known option');
    expect(() => kind.parseConfig({}, 'destinations[0].options')).toThrow('destinations[0].options.dsn: is required');
    expect(kind.parseConfig({ dsn: 'x.duckdb', format: 'arrow' }, 'd')).toMatchObject({ dsn: 'x.duckdb', writeMode: 'target' });
  });
});

describe('types', () => {
  const all = table(
    'public.alltypes',
    {
      id: 'int4',
      b: 'bool',
      i2: 'int2',
      i8: 'int8',
      f4: 'float4',
      f8: 'float8',
      n: 'numeric(30,10)',
      nbig: 'numeric(50,5)',
      nfree: 'numeric',
      txt: 'text',
      vc: 'varchar(20)',
      ch: 'bpchar(3)',
      by: 'bytea',
      j: 'json',
      jb: 'jsonb',
      d: 'date',
      ts: 'timestamp',
      tstz: 'timestamptz',
      tm: 'time',
      tmtz: 'timetz',
      iv: 'interval',
      u: 'uuid',
      ai: 'int4[]',
      at: 'text[]',
      an: 'numeric(10,2)[]',
      ats: 'timestamptz[]',
      mood: 'public.mood',
    },
    { primaryKey: ['id'] },
  );

  test('every common type round-trips exactly, NULLs included', async () => {
    const d = await destination({ dsn: newFile() });
    const log = new ChangeLog();
    const row1: Row = {
      id: 1,
      b: true,
      i2: -32768,
      i8: 9223372036854775807n,
      f4: Infinity,
      f8: NaN,
      n: '12345678901234567890.0123456789',
      nbig: '123456789012345678901234567890123456789012345.12345',
      nfree: '-0.000000000000000000000000000000000001',
      txt: 'héllo wörld 日本 🎉 \'"\\',
      vc: 'x',
      ch: 'ab ',
      by: Buffer.from([0, 1, 0, 255, 0]),
      j: '{"a": [1, 2.50, null],  "b": "x"}',
      jb: '{"k": "v"}',
      d: '0044-03-15 BC',
      ts: '1969-12-31T23:59:59.999999',
      tstz: '2262-04-11T23:47:16.854776Z',
      tm: '24:00:00',
      tmtz: '12:34:56.789012+05:30',
      iv: '1 year 2 mons -3 days +04:05:06.789',
      u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      ai: [1, null, 3],
      at: ['a', null, 'c"q'],
      an: ['1.50', null, '-99999999.99'],
      ats: ['2040-02-29T12:00:00.000001Z', null],
      mood: 'happy',
    };
    const row2: Row = {
      id: 2,
      b: false,
      i2: 32767,
      i8: -9223372036854775808n,
      f4: -1.5,
      f8: -Infinity,
      n: '-99999999999999999999.9999999999',
      nbig: 'NaN',
      nfree: 'Infinity',
      txt: '',
      vc: '',
      ch: '   ',
      by: Buffer.alloc(0),
      j: '[]',
      jb: 'null',
      d: '-000043-03-15',
      ts: '0001-01-01T00:00:00',
      tstz: '1900-01-01T00:00:00.000001Z',
      tm: '00:00:00.000001',
      tmtz: '00:00:00-15:59',
      iv: '-00:00:00.000001',
      u: '00000000-0000-0000-0000-000000000000',
      ai: [],
      at: [],
      an: [],
      ats: [],
      mood: 'sad',
    };
    const row3: Row = Object.fromEntries(all.columns.map((c) => [c.name, c.name === 'id' ? 3 : null]));
    const row4: Row = { ...row3, id: 4, d: 'infinity', ts: 'infinity', tstz: '-infinity', f8: 0.1 + 0.2, i8: 0n, n: '0.0000000001' };
    log.tx((t) => t.insert(all, row1).insert(all, row2).insert(all, row3).insert(all, row4));
    await d.write(log.batch());

    const types = await rows(
      d,
      `SELECT column_name AS c, data_type AS t FROM information_schema.columns WHERE table_name = 'alltypes' ORDER BY ordinal_position`,
    );
    expect(Object.fromEntries(types.map((r) => [r.c, r.t]))).toEqual({
      id: 'INTEGER',
      b: 'BOOLEAN',
      i2: 'SMALLINT',
      i8: 'BIGINT',
      f4: 'FLOAT',
      f8: 'DOUBLE',
      n: 'DECIMAL(30,10)',
      nbig: 'VARCHAR',
      nfree: 'VARCHAR',
      txt: 'VARCHAR',
      vc: 'VARCHAR',
      ch: 'VARCHAR',
      by: 'BLOB',
      j: 'JSON',
      jb: 'JSON',
      d: 'DATE',
      ts: 'TIMESTAMP',
      tstz: 'TIMESTAMP WITH TIME ZONE',
      tm: 'TIME',
      tmtz: 'TIME WITH TIME ZONE',
      iv: 'INTERVAL',
      u: 'UUID',
      ai: 'INTEGER[]',
      at: 'VARCHAR[]',
      an: 'DECIMAL(10,2)[]',
      ats: 'TIMESTAMP WITH TIME ZONE[]',
      mood: 'VARCHAR',
    });

    const text = await tableText(d, 'public.alltypes');
    expect(text[0]).toEqual({
      id: '1',
      b: 'true',
      i2: '-32768',
      i8: '9223372036854775807',
      f4: 'inf',
      f8: 'nan',
      n: '12345678901234567890.0123456789',
      nbig: '123456789012345678901234567890123456789012345.12345',
      nfree: '-0.000000000000000000000000000000000001',
      txt: 'héllo wörld 日本 🎉 \'"\\',
      vc: 'x',
      ch: 'ab ',
      by: '\\x00\\x01\\x00\\xFF\\x00',
      j: '{"a": [1, 2.50, null],  "b": "x"}',
      jb: '{"k": "v"}',
      d: '0044-03-15 (BC)',
      ts: '1969-12-31 23:59:59.999999',
      tstz: '2262-04-11 23:47:16.854776+00',
      tm: '24:00:00',
      tmtz: '12:34:56.789012+05:30',
      iv: '1 year 2 months -3 days 04:05:06.789',
      u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      ai: '[1, NULL, 3]',
      at: "[a, NULL, 'c\"q']",
      an: '[1.50, NULL, -99999999.99]',
      ats: "['2040-02-29 12:00:00.000001+00', NULL]",
      mood: 'happy',
    });
    expect(text[1]).toEqual({
      id: '2',
      b: 'false',
      i2: '32767',
      i8: '-9223372036854775808',
      f4: '-1.5',
      f8: '-inf',
      n: '-99999999999999999999.9999999999',
      nbig: 'NaN',
      nfree: 'Infinity',
      txt: '',
      vc: '',
      ch: '   ',
      by: '',
      j: '[]',
      jb: 'null',
      d: '0044-03-15 (BC)',
      ts: '0001-01-01 00:00:00',
      tstz: '1900-01-01 00:00:00.000001+00',
      tm: '00:00:00.000001',
      tmtz: '00:00:00-15:59',
      iv: '-00:00:00.000001',
      u: '00000000-0000-0000-0000-000000000000',
      ai: '[]',
      at: '[]',
      an: '[]',
      ats: '[]',
      mood: 'sad',
    });
    expect(text[2]).toEqual(Object.fromEntries(all.columns.map((c) => [c.name, c.name === 'id' ? '3' : null])));
    expect(text[3]).toMatchObject({ d: 'infinity', ts: 'infinity', tstz: '-infinity', f8: '0.30000000000000004', i8: '0', n: '0.0000000001' });

    // Exact integers behind the text: microseconds and bytes.
    const exact = await rows(
      d,
      `SELECT epoch_us(ts) AS ts, epoch_us(tstz) AS tstz, hex("by") AS by, octet_length("by") AS len, list_extract(ats, 1) = TIMESTAMPTZ '2040-02-29 12:00:00.000001+00' AS arr FROM public.alltypes WHERE id = 1`,
    );
    expect(exact[0]).toEqual({
      ts: String(timestampToEpochMicros('1969-12-31T23:59:59.999999')),
      tstz: String(timestampToEpochMicros('2262-04-11T23:47:16.854776Z')),
      by: '000100FF00',
      len: '5',
      arr: true,
    });
  });

  test('type_mappings and type_mappings_file override destination types; values stay exact', async () => {
    const file = join(dir, 'mappings.json');
    writeFileSync(file, JSON.stringify({ jsonb: 'VARCHAR', 'numeric(30,10)': 'VARCHAR' }));
    const d = await destination({
      dsn: newFile(),
      type_mappings_file: file,
      type_mappings: '{"public.mood": "VARCHAR(10)", "int4[]": "VARCHAR", "int8": "HUGEINT"}',
    });
    const t = table('public.mapped', { id: 'int4', jb: 'jsonb', n: 'numeric(30,10)', mood: 'public.mood', ai: 'int4[]', big: 'int8' }, { primaryKey: ['id'] });
    const log = new ChangeLog();
    log.tx((x) => x.insert(t, { id: 1, jb: '{"a": 1}', n: '12345678901234567890.0123456789', mood: 'ok', ai: [1, null, 2], big: -9223372036854775808n }));
    await d.write(log.batch());
    const types = await rows(
      d,
      `SELECT column_name AS c, data_type AS t FROM information_schema.columns WHERE table_name = 'mapped' ORDER BY ordinal_position`,
    );
    expect(types.map((r) => r.t)).toEqual(['INTEGER', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'HUGEINT']);
    expect(await tableText(d, 'public.mapped')).toEqual([
      { id: '1', jb: '{"a": 1}', n: '12345678901234567890.0123456789', mood: 'ok', ai: '[1,null,2]', big: '-9223372036854775808' },
    ]);
  });

  test('type-mapped key columns still match for updates, deletes, key moves and TOAST fill, in both modes', async () => {
    for (const mode of ['target', 'append']) {
      const d = await destination({ dsn: newFile(), write_mode: mode, type_mappings: '{"int8": "HUGEINT", "text": "VARCHAR(100)"}' });
      const log = new ChangeLog();
      log.tx((t) => t.insert(users, { id: 1n, name: 'a', bio: 'kept', score: null }).insert(users, { id: 2n, name: 'b', bio: null, score: null }));
      await d.write(log.batch());
      log.tx((t) => t.update(users, { id: 3n, name: 'a2' }, { before: { id: 1n }, unchangedToast: ['bio', 'score'] }).delete(users, { id: 2n }));
      await d.write(log.batch());
      log.tx((t) => t.update(users, { id: 3n, name: 'a3' }, { unchangedToast: ['bio'] }));
      await d.write(log.batch());
      const latest = await rows(
        d,
        mode === 'target'
          ? 'SELECT CAST(id AS VARCHAR) AS id, name, bio FROM public.users ORDER BY id'
          : "SELECT CAST(id AS VARCHAR) AS id, name, bio FROM public.users WHERE __ds_op = 'update' ORDER BY __ds_lsn",
      );
      expect(latest.at(-1)).toEqual({ id: '3', name: 'a3', bio: 'kept' });
      if (mode === 'target') expect(latest).toHaveLength(1);
    }
  });

  test('a value that does not fit its column fails the batch permanently, naming the column, and writes nothing', async () => {
    const d = await destination({ dsn: newFile() });
    const t = table('public.money', { id: 'int4', amount: 'numeric(10,2)' }, { primaryKey: ['id'] });
    const log = new ChangeLog();
    log.tx((x) => x.insert(t, { id: 1, amount: '1.50' }));
    log.tx((x) => x.insert(t, { id: 2, amount: 'NaN' }));
    const err = await d.write(log.batch()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DuctError);
    expect((err as DuctError).retry).toBe('never');
    expect((err as DuctError).message).toContain('public.money');
    expect((err as DuctError).message).toContain('"amount"');
    expect(await rows(d, 'SELECT count(*) AS n FROM public.money')).toEqual([{ n: '0' }]);
  });
});

describe('target mode', () => {
  test('inserts, updates, deletes and truncates across batches', async () => {
    const d = await destination({ dsn: newFile() });
    const log = new ChangeLog();
    log.tx((t) => t.insert(users, { id: 1n, name: 'ann', bio: 'a', score: '1.00' }).insert(users, { id: 2n, name: 'bob', bio: 'b', score: null }));
    await d.write(log.batch());
    log.tx((t) =>
      t
        .update(users, { id: 1n, name: 'ann2', bio: 'a2', score: '2.50' })
        .delete(users, { id: 2n })
        .insert(users, { id: 3n, name: 'cy', bio: null, score: '-0.01' }),
    );
    await d.write(log.batch());
    expect(await tableText(d, 'public.users')).toEqual([
      { id: '1', name: 'ann2', bio: 'a2', score: '2.50' },
      { id: '3', name: 'cy', bio: null, score: '-0.01' },
    ]);
    log.tx((t) => t.truncate(users));
    log.tx((t) => t.insert(users, { id: 9n, name: 'new', bio: null, score: null }));
    await d.write(log.batch());
    expect(await tableText(d, 'public.users')).toEqual([{ id: '9', name: 'new', bio: null, score: null }]);
  });

  test('several changes to one row in a batch collapse to the last, including delete-then-reinsert', async () => {
    const d = await destination({ dsn: newFile() });
    const log = new ChangeLog();
    log.tx((t) => t.insert(users, { id: 1n, name: 'v1', bio: 'keep', score: '1.00' }).insert(users, { id: 2n, name: 'x', bio: 'x', score: null }));
    await d.write(log.batch());
    log.tx((t) => {
      t.update(users, { id: 1n, name: 'v2', bio: 'keep', score: '2.00' });
      t.delete(users, { id: 1n });
      t.insert(users, { id: 1n, name: 'v3', bio: 'reborn', score: '3.00' });
      t.insert(users, { id: 5n, name: 'tmp', bio: null, score: null });
      t.delete(users, { id: 5n });
      t.delete(users, { id: 2n });
      t.insert(users, { id: 2n, name: 'y', bio: null, score: null });
      t.update(users, { id: 2n, name: 'z', bio: 'zz', score: '0.10' });
    });
    await d.write(log.batch());
    expect(await tableText(d, 'public.users')).toEqual([
      { id: '1', name: 'v3', bio: 'reborn', score: '3.00' },
      { id: '2', name: 'z', bio: 'zz', score: '0.10' },
    ]);
  });

  test('unchanged TOAST columns keep the destination value, across batches and key changes', async () => {
    const d = await destination({ dsn: newFile() });
    const log = new ChangeLog();
    const big = 'B'.repeat(5000);
    log.tx((t) => t.insert(users, { id: 1n, name: 'a', bio: big, score: '1.00' }).insert(users, { id: 2n, name: 'b', bio: 'small', score: '2.00' }));
    await d.write(log.batch());
    // Same key, bio not sent.
    log.tx((t) => t.update(users, { id: 1n, name: 'a2', score: '1.50' }, { unchangedToast: ['bio'] }));
    await d.write(log.batch());
    expect(await tableText(d, 'public.users')).toEqual([
      { id: '1', name: 'a2', bio: big, score: '1.50' },
      { id: '2', name: 'b', bio: 'small', score: '2.00' },
    ]);
    // Key change 1 → 10 without bio, then another update of 10 without bio, in one batch.
    log.tx((t) => t.update(users, { id: 10n, name: 'moved', score: '1.50' }, { before: { id: 1n }, unchangedToast: ['bio'] }));
    log.tx((t) => t.update(users, { id: 10n, name: 'moved2', score: '9.99' }, { unchangedToast: ['bio'] }));
    await d.write(log.batch());
    expect(await tableText(d, 'public.users')).toEqual([
      { id: '2', name: 'b', bio: 'small', score: '2.00' },
      { id: '10', name: 'moved2', bio: big, score: '9.99' },
    ]);
  });

  test("key swaps inside one batch carry each row's unchanged columns to its new key", async () => {
    const d = await destination({ dsn: newFile() });
    const log = new ChangeLog();
    log.tx((t) => t.insert(users, { id: 1n, name: 'one', bio: 'bio-1', score: null }).insert(users, { id: 2n, name: 'two', bio: 'bio-2', score: null }));
    await d.write(log.batch());
    log.tx((t) => {
      t.update(users, { id: 3n, name: 'one' }, { before: { id: 1n }, unchangedToast: ['bio', 'score'] });
      t.update(users, { id: 1n, name: 'two' }, { before: { id: 2n }, unchangedToast: ['bio', 'score'] });
      t.update(users, { id: 2n, name: 'one' }, { before: { id: 3n }, unchangedToast: ['bio', 'score'] });
    });
    await d.write(log.batch());
    expect(await tableText(d, 'public.users')).toEqual([
      { id: '1', name: 'two', bio: 'bio-2', score: null },
      { id: '2', name: 'one', bio: 'bio-1', score: null },
    ]);
  });

  test('a truncate in the middle of a batch drops what came before it', async () => {
    const d = await destination({ dsn: newFile() });
    const log = new ChangeLog();
    log.tx((t) => t.insert(users, { id: 1n, name: 'old', bio: null, score: null }));
    await d.write(log.batch());
    log.tx((t) => t.insert(users, { id: 2n, name: 'gone', bio: null, score: null }).update(users, { id: 1n, name: 'gone too', bio: null, score: null }));
    log.tx((t) => t.truncate(users));
    log.tx((t) => t.insert(users, { id: 1n, name: 'after', bio: null, score: null }));
    await d.write(log.batch());
    expect(await tableText(d, 'public.users')).toEqual([{ id: '1', name: 'after', bio: null, score: null }]);
  });

  test('schema and table options name the destination; table refuses a second source table', async () => {
    const d = await destination({ dsn: newFile(), schema: 'analytics', table: 'people' });
    const log = new ChangeLog();
    log.tx((t) => t.insert(users, { id: 1n, name: 'a', bio: null, score: null }));
    await d.write(log.batch());
    expect(await tableText(d, 'analytics.people')).toEqual([{ id: '1', name: 'a', bio: null, score: null }]);
    const other = table('public.orders', { id: 'int8' }, { primaryKey: ['id'] });
    log.tx((t) => t.insert(other, { id: 1n }));
    const err = await d.write(log.batch()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DuctError);
    expect((err as DuctError).field).toBe('destinations[0].options.table');
    expect((err as DuctError).message).toContain('public.orders');
    expect((err as DuctError).retry).toBe('never');
  });

  test('a table whose columns are all key columns takes inserts, replays and deletes', async () => {
    const d = await destination({ dsn: newFile() });
    const tags = table('public.tags', { post: 'int8', tag: 'text' }, { primaryKey: ['post', 'tag'] });
    const log = new ChangeLog();
    log.tx((t) => t.insert(tags, { post: 1n, tag: 'a' }).insert(tags, { post: 1n, tag: 'b' }).insert(tags, { post: 2n, tag: 'a' }));
    await d.write(log.batch());
    log.tx((t) => t.delete(tags, { post: 1n, tag: 'a' }).insert(tags, { post: 2n, tag: 'a' }));
    await d.write(log.batch());
    expect(await tableText(d, 'public.tags', 'post, tag')).toEqual([
      { post: '1', tag: 'b' },
      { post: '2', tag: 'a' },
    ]);
  });

  test('an existing destination table that lacks source columns is refused with the fix', async () => {
    const d = await destination({ dsn: newFile() });
    await d.connection.run('CREATE SCHEMA public; CREATE TABLE public.users (id BIGINT PRIMARY KEY, name VARCHAR)');
    const log = new ChangeLog();
    log.tx((t) => t.insert(users, { id: 1n, name: 'a', bio: null, score: null }));
    const err = await d.write(log.batch()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DuctError);
    expect((err as DuctError).code).toBe('failed_precondition');
    expect((err as DuctError).message).toContain('lacks column(s) bio, score');
  });

  test('two source tables in one batch land in their own tables atomically', async () => {
    const d = await destination({ dsn: newFile(), schema: 'wh' });
    const orders = table('shop.orders', { id: 'int8', total: 'numeric(12,2)' }, { primaryKey: ['id'] });
    const log = new ChangeLog();
    log.tx((t) => t.insert(users, { id: 1n, name: 'a', bio: null, score: null }).insert(orders, { id: 7n, total: '10.00' }));
    await d.write(log.batch());
    expect(await tableText(d, 'wh.users')).toEqual([{ id: '1', name: 'a', bio: null, score: null }]);
    expect(await tableText(d, 'wh.orders')).toEqual([{ id: '7', total: '10.00' }]);
  });
});

describe('idempotency and order', () => {
  async function snapshot(d: DuckdbDestination): Promise<Record<string, string | null>[]> {
    return tableText(d, 'public.users');
  }

  test('a batch written twice gives the same table', async () => {
    const d = await destination({ dsn: newFile() });
    const log = new ChangeLog();
    log.tx((t) => t.insert(users, { id: 1n, name: 'a', bio: 'toasted', score: '1.00' }));
    await d.write(log.batch());
    // A key move whose unchanged bio comes from the old row: re-applying it blindly would read the
    // (now deleted) old row and write NULL.
    log.tx((t) =>
      t
        .update(users, { id: 2n, name: 'moved', score: '1.00' }, { before: { id: 1n }, unchangedToast: ['bio'] })
        .insert(users, { id: 3n, name: 'new', bio: null, score: null }),
    );
    const b = log.batch();
    expect(await d.writeBatch(b)).toEqual({ tables: 1, applied: 2, skipped: 0 });
    const once = await snapshot(d);
    expect(await d.writeBatch(b)).toEqual({ tables: 0, applied: 0, skipped: 2 });
    expect(await snapshot(d)).toEqual(once);
    expect(once).toEqual([
      { id: '2', name: 'moved', bio: 'toasted', score: '1.00' },
      { id: '3', name: 'new', bio: null, score: null },
    ]);
  });

  test('an older batch after a newer one never overwrites newer rows (and does without the meta table)', async () => {
    for (const metaTable of ['true', 'false']) {
      const d = await destination({ dsn: newFile(), meta_table_enabled: metaTable });
      const log = new ChangeLog();
      log.tx((t) => t.insert(users, { id: 1n, name: 'v1', bio: null, score: null }).insert(users, { id: 2n, name: 'doomed', bio: null, score: null }));
      const b1 = log.batch();
      log.tx((t) => t.update(users, { id: 1n, name: 'v2', bio: null, score: null }).delete(users, { id: 2n }));
      const b2 = log.batch();
      await d.write(b1);
      await d.write(b2);
      await d.write(b1);
      const expected = [{ id: '1', name: 'v2', bio: null, score: null }];
      if (metaTable === 'true') expect(await snapshot(d)).toEqual(expected);
      else expect(await snapshot(d)).not.toEqual(expected); // the guard is what keeps the newer row
    }
  });

  test('a replay that overlaps the applied position applies only the part after it', async () => {
    const d = await destination({ dsn: newFile() });
    const log = new ChangeLog();
    const [a, b] = log.tx((t) => t.insert(users, { id: 1n, name: 'a', bio: null, score: null }).insert(users, { id: 2n, name: 'b', bio: null, score: null }));
    log.batch();
    // The first change of the transaction alone (a batch that ends inside a transaction)...
    await d.write(log.batchOf([a!]));
    // ...then the whole transaction again after a restart from the checkpoint before it.
    const summary = await d.writeBatch(log.batchOf([a!, b!]));
    expect(summary).toEqual({ tables: 1, applied: 1, skipped: 1 });
    expect(await snapshot(d)).toEqual([
      { id: '1', name: 'a', bio: null, score: null },
      { id: '2', name: 'b', bio: null, score: null },
    ]);
  });

  test('inserts of keys the destination already holds (rows from before the flow) replace those rows', async () => {
    const d = await destination({ dsn: newFile() });
    await d.connection.run('CREATE SCHEMA public; CREATE TABLE public.users (id BIGINT PRIMARY KEY, name VARCHAR, bio VARCHAR, score DECIMAL(10,2))');
    await d.connection.run(`INSERT INTO public.users VALUES (1, 'old', 'old bio', 9.99)`);
    const log = new ChangeLog();
    // A batch of inserts only is applied with a plain INSERT first; the existing key makes it fail
    // as a whole, and the batch is applied again with upserts.
    log.tx((t) => t.insert(users, { id: 2n, name: 'b', bio: null, score: '2.00' }).insert(users, { id: 1n, name: 'a', bio: null, score: '1.00' }));
    const b = log.batch();
    expect(await d.writeBatch(b)).toEqual({ tables: 1, applied: 2, skipped: 0 });
    const expected = [
      { id: '1', name: 'a', bio: null, score: '1.00' },
      { id: '2', name: 'b', bio: null, score: '2.00' },
    ];
    expect(await snapshot(d)).toEqual(expected);
    expect(await d.writeBatch(b)).toEqual({ tables: 0, applied: 0, skipped: 2 });
    log.tx((t) => t.insert(users, { id: 3n, name: 'c', bio: 'x', score: null }));
    await d.write(log.batch());
    expect(await snapshot(d)).toEqual([...expected, { id: '3', name: 'c', bio: 'x', score: null }]);
    expect(await rows(d, 'SELECT seq FROM ductstream_meta.__metadata')).toEqual([{ seq: '0' }]);
  });

  test('updates of rows the destination lacks (a flow started without a snapshot) insert them', async () => {
    const d = await destination({ dsn: newFile() });
    const log = new ChangeLog();
    log.tx((t) => t.insert(users, { id: 1n, name: 'a', bio: 'kept', score: '1.00' }));
    await d.write(log.batch());
    // A batch of updates only is applied with a plain UPDATE whose row count is checked; id 2 is
    // missing, so the batch is applied again with upserts.
    log.tx((t) => t.update(users, { id: 1n, name: 'a2', bio: 'kept', score: '1.50' }).update(users, { id: 2n, name: 'b', bio: null, score: null }));
    const b = log.batch();
    expect(await d.writeBatch(b)).toEqual({ tables: 1, applied: 2, skipped: 0 });
    const expected = [
      { id: '1', name: 'a2', bio: 'kept', score: '1.50' },
      { id: '2', name: 'b', bio: null, score: null },
    ];
    expect(await snapshot(d)).toEqual(expected);
    expect(await d.writeBatch(b)).toEqual({ tables: 0, applied: 0, skipped: 2 });
    // All present now: the plain UPDATE applies, TOAST fill included.
    log.tx((t) =>
      t.update(users, { id: 1n, name: 'a3', score: '2.00' }, { unchangedToast: ['bio'] }).update(users, { id: 2n, name: 'b2', bio: 'x', score: '3.00' }),
    );
    await d.write(log.batch());
    expect(await snapshot(d)).toEqual([
      { id: '1', name: 'a3', bio: 'kept', score: '2.00' },
      { id: '2', name: 'b2', bio: 'x', score: '3.00' },
    ]);
  });

  test('the load table is replaced as rows go through it, so its storage stays bounded', async () => {
    const d = await destination({ dsn: newFile() });
    const pairs = table('public.pairs', { id: 'int8', v: 'text' }, { primaryKey: ['id'] });
    const log = new ChangeLog();
    const rowGroups = async (): Promise<number> =>
      Number((await rows(d, `SELECT count(DISTINCT row_group_id) AS n FROM pragma_storage_info('temp.__ds_load_0')`))[0]!.n);
    let most = 0;
    for (let b = 0; b < 26; b++) {
      log.tx((t) => {
        for (let i = 0; i < 10_000; i++) t.insert(pairs, { id: BigInt(b * 10_000 + i), v: 'x' });
      });
      await d.write(log.batch());
      log.all.length = 0;
      most = Math.max(most, await rowGroups());
    }
    // 260k rows went through; a table that kept them all would span 3 row groups (122,880 rows each).
    expect(most).toBeLessThanOrEqual(2);
    expect(await rows(d, 'SELECT count(*) AS n, count(DISTINCT id) AS k FROM public.pairs')).toEqual([{ n: '260000', k: '260000' }]);
  });

  test('a failing batch leaves neither data nor watermark behind; its retry applies it once', async () => {
    const d = await destination({ dsn: newFile() });
    const strict = table('public.strict', { id: 'int4', amount: 'numeric(4,2)' }, { primaryKey: ['id'] });
    const log = new ChangeLog();
    const changes = log.tx((t) => t.insert(users, { id: 1n, name: 'a', bio: null, score: null }).insert(strict, { id: 1, amount: '123.45' }));
    log.batch();
    await expect(d.write(log.batchOf(changes))).rejects.toThrow('"amount"');
    expect(await rows(d, 'SELECT count(*) AS n FROM public.users')).toEqual([{ n: '0' }]);
    expect(await rows(d, 'SELECT count(*) AS n FROM ductstream_meta.__metadata')).toEqual([{ n: '0' }]);
    const fixed: Change[] = changes.map((c) => (c.table.name === 'strict' ? { ...c, after: { id: 1, amount: '12.34' } } : c));
    await d.write(log.batchOf(fixed));
    await d.write(log.batchOf(fixed));
    expect(await tableText(d, 'public.users')).toEqual([{ id: '1', name: 'a', bio: null, score: null }]);
    expect(await tableText(d, 'public.strict')).toEqual([{ id: '1', amount: '12.34' }]);
  });

  test('after a crash (process killed right after write resolved) the data is there and the batch replays as a no-op', async () => {
    const file = newFile();
    const script = join(dir, 'crash-writer.ts');
    writeFileSync(
      script,
      `
      import { duckdbDestinationKind } from ${JSON.stringify(join(__dirname, '../../src/destinations/duckdb'))};
      import { ChangeLog, destinationContext, table } from ${JSON.stringify(join(__dirname, '../support/changes'))};
      (async () => {
        const users = table('public.users', { id: 'int8', name: 'text', bio: 'text', score: 'numeric(10,2)' }, { primaryKey: ['id'] });
        const log = new ChangeLog();
        log.tx((t) => { for (let i = 1n; i <= 500n; i++) t.insert(users, { id: i, name: 'n' + i, bio: null, score: '1.25' }); });
        const d = await duckdbDestinationKind.create(duckdbDestinationKind.parseConfig({ dsn: ${JSON.stringify(file)} }, 'd'), destinationContext());
        await d.open();
        await d.write(log.batch());
        process.kill(process.pid, 'SIGKILL');
      })();
    `,
    );
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: join(__dirname, '../..'), encoding: 'utf8' });
    expect(r.signal).toBe('SIGKILL');

    const d = await destination({ dsn: file });
    expect(await rows(d, 'SELECT count(*) AS n, sum(score) AS s FROM public.users')).toEqual([{ n: '500', s: '625.00' }]);
    const log = new ChangeLog();
    log.tx((t) => {
      for (let i = 1n; i <= 500n; i++) t.insert(users, { id: i, name: 'n' + i, bio: null, score: '1.25' });
    });
    expect(await d.writeBatch(log.batch())).toEqual({ tables: 0, applied: 0, skipped: 500 });
    expect(await rows(d, 'SELECT count(*) AS n FROM public.users')).toEqual([{ n: '500' }]);
  });

  test('reopening the file keeps watermarks: an old batch written by a new process is skipped', async () => {
    const file = newFile();
    const log = new ChangeLog();
    log.tx((t) => t.insert(users, { id: 1n, name: 'v1', bio: null, score: null }));
    const b1 = log.batch();
    log.tx((t) => t.update(users, { id: 1n, name: 'v2', bio: null, score: null }));
    const b2 = log.batch();
    const first = await destination({ dsn: file });
    await first.write(b1);
    await first.write(b2);
    await first.close();
    const again = await destination({ dsn: file });
    await again.write(b1);
    await again.write(b2);
    expect(await snapshot(again)).toEqual([{ id: '1', name: 'v2', bio: null, score: null }]);
  });

  test('watermarks are per flow: another flow writing the same table is not skipped', async () => {
    const file = newFile();
    const a = await destination({ dsn: file }, 'flow-a');
    const b = await destination({ dsn: file }, 'flow-b');
    const la = new ChangeLog('flow-a');
    la.tx((t) => t.insert(users, { id: 1n, name: 'from a', bio: null, score: null }));
    const lb = new ChangeLog('flow-b');
    lb.tx((t) => t.insert(users, { id: 2n, name: 'from b', bio: null, score: null }));
    await a.write(la.batch());
    await b.write(lb.batch());
    expect((await snapshot(a)).map((r) => r.name)).toEqual(['from a', 'from b']);
  });
});
