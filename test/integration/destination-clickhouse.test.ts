/**
 * The ClickHouse destination against a real ClickHouse (26, chdb behind the HTTP interface):
 * native types read back through the client, an outage ridden through, staging, and bad input.
 */
import '../../src/destinations';
import { DuctError, isDuctError } from '../../src/core/errors';
import type { Destination } from '../../src/destinations/destination';
import { getDestinationKind } from '../../src/destinations/registry';
import { ChangeLog, destinationContext, table } from '../support/changes';
import { startClickhouseServer, type ClickhouseServer } from '../support/peers/clickhouseServer';

let server: ClickhouseServer;
const opened: Destination[] = [];

beforeAll(async () => {
  server = await startClickhouseServer();
}, 60_000);
afterAll(async () => {
  await Promise.allSettled(opened.map((d) => d.close()));
  await server.dispose();
});

function config(options: Record<string, string>): unknown {
  return getDestinationKind('clickhouse', 'destinations[0].type').parseConfig(options, 'destinations[0].options');
}

async function destination(
  options: Record<string, string>,
  flowId = 'flow-1',
): Promise<Destination & { resolveStaging?: (t: { schema: string; name: string }[]) => Promise<void> }> {
  const kind = getDestinationKind('clickhouse', 'destinations[0].type');
  const d = await kind.create(kind.parseConfig({ dsn: server.dsn, ...options }, 'destinations[0].options'), destinationContext(flowId));
  opened.push(d);
  await d.open();
  return d;
}

const typed = table(
  'public.typed',
  {
    id: 'int8',
    b: 'bool',
    n: 'numeric(70,20)',
    d: 'date',
    ts: 'timestamp',
    tstz: 'timestamptz',
    u: 'uuid',
    by: 'bytea',
    j: 'jsonb',
    ai: 'int8[]',
    an: 'numeric(10,2)[]',
    tm: 'time',
  },
  { primaryKey: ['id'] },
);

test('native types round trip exactly: Decimal(70,20), Date32, DateTime64(6, UTC), UUID, Bool, binary String, JSON text, Array, Variant(Array) NULL', async () => {
  const d = await destination({ database: 'it_types' });
  const log = new ChangeLog();
  const bytes = Buffer.from([0, 1, 9, 10, 13, 39, 92, 127, 128, 255]);
  log.tx((t) =>
    t
      .insert(typed, {
        id: 1n,
        b: true,
        n: '-12345678901234567890123456789012345678901234567890.12345678901234567890',
        d: '1900-01-01',
        ts: '2299-12-31T23:59:59.999999',
        tstz: '1969-12-31T23:59:59.000001Z',
        u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        by: bytes,
        j: '{"k": [1, "two\\t"], "n": 12345678901234567890}',
        ai: [9223372036854775807n, null, -1n],
        an: ['1.50', null],
        tm: '24:00:00',
      })
      .insert(typed, { id: 2n, b: null, n: null, d: null, ts: null, tstz: null, u: null, by: null, j: null, ai: null, an: [], tm: null }),
  );
  await d.write(log.batch());
  const rows = await server.rows<Record<string, unknown>>(
    'SELECT id, b, n, d, ts, tstz, u, hex(by) AS by, j, ai, an, tm, toTypeName(n) AS nt, toTypeName(tstz) AS tt, toTypeName(ai) AS at FROM it_types.typed FINAL ORDER BY id',
  );
  expect(rows).toEqual([
    {
      id: '1',
      b: true,
      n: '-12345678901234567890123456789012345678901234567890.1234567890123456789',
      d: '1900-01-01',
      ts: '2299-12-31 23:59:59.999999',
      tstz: '1969-12-31 23:59:59.000001',
      u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      by: bytes.toString('hex').toUpperCase(),
      j: '{"k": [1, "two\\t"], "n": 12345678901234567890}',
      ai: ['9223372036854775807', null, '-1'],
      an: ['1.5', null],
      tm: '24:00:00',
      nt: 'Nullable(Decimal(70, 20))',
      tt: "Nullable(DateTime64(6, 'UTC'))",
      at: 'Variant(Array(Nullable(Int64)))',
    },
    {
      id: '2',
      b: null,
      n: null,
      d: null,
      ts: null,
      tstz: null,
      u: null,
      by: null,
      j: null,
      ai: null,
      an: [],
      tm: null,
      nt: 'Nullable(Decimal(70, 20))',
      tt: "Nullable(DateTime64(6, 'UTC'))",
      at: 'Variant(Array(Nullable(Int64)))',
    },
  ]);
});

test('a value outside ClickHouse range is refused naming the column and the fix, never clamped', async () => {
  const d = await destination({ database: 'it_range' });
  const log = new ChangeLog();
  log.tx((t) => t.insert(typed, { id: 1n, b: null, n: null, d: '1899-12-31', ts: null, tstz: null, u: null, by: null, j: null, ai: null, an: null, tm: null }));
  const err = await d.write(log.batch()).catch((e: unknown) => e);
  expect(isDuctError(err) && err.retry).toBe('never');
  expect((err as Error).message).toMatch(/column "d".*outside ClickHouse's Date32 range.*type_mappings/);
  expect(await server.rows('SELECT count() AS n FROM it_range.typed')).toEqual([{ n: '0' }]);
});

test('a ClickHouse that goes away for a while is ridden through: the write waits and lands once', async () => {
  const users = table('public.users', { id: 'int8', name: 'text' }, { primaryKey: ['id'] });
  const d = await destination({ database: 'it_outage' });
  const log = new ChangeLog();
  log.tx((t) => t.insert(users, { id: 1n, name: 'before' }));
  await d.write(log.batch());
  await server.stop();
  log.tx((t) => t.update(users, { id: 1n, name: 'during' }).insert(users, { id: 2n, name: 'new' }));
  const writing = d.write(log.batch());
  await new Promise((r) => setTimeout(r, 2_000));
  await server.start();
  await writing;
  expect(await server.rows('SELECT id, name FROM it_outage.users FINAL ORDER BY id')).toEqual([
    { id: '1', name: 'during' },
    { id: '2', name: 'new' },
  ]);
}, 90_000);

test('staging: batch_mode=staging fills <table>_staging; resolve (replace) swaps it in and moves the watermark', async () => {
  const users = table('public.staged', { id: 'int8', name: 'text' }, { primaryKey: ['id'] });
  const live = await destination({ database: 'it_stage' }, 'flow-s');
  const log = new ChangeLog('flow-s');
  log.tx((t) => t.insert(users, { id: 1n, name: 'old' }).insert(users, { id: 9n, name: 'gone after replace' }));
  await live.write(log.batch());
  const staged = await destination({ database: 'it_stage', batch_mode: 'staging', batch_resolution: 'replace' }, 'flow-s');
  log.tx((t) => t.insert(users, { id: 1n, name: 'snapshot' }).insert(users, { id: 2n, name: 'snapshot2' }));
  const snapshot = log.batch();
  await staged.write(snapshot);
  expect(await server.rows('SELECT id, name FROM it_stage.staged_staging FINAL ORDER BY id')).toEqual([
    { id: '1', name: 'snapshot' },
    { id: '2', name: 'snapshot2' },
  ]);
  await staged.resolveStaging!([users]);
  expect(await server.rows('SELECT id, name FROM it_stage.staged FINAL ORDER BY id')).toEqual([
    { id: '1', name: 'snapshot' },
    { id: '2', name: 'snapshot2' },
  ]);
  expect(await server.rows("SELECT count() AS n FROM system.tables WHERE database = 'it_stage' AND name = 'staged_staging'")).toEqual([{ n: '0' }]);
  // The target's watermark is the snapshot's: a fresh writer skips the snapshot's changes when they stream in.
  const again = await destination({ database: 'it_stage' }, 'flow-s');
  await again.write(snapshot);
  log.tx((t) => t.update(users, { id: 2n, name: 'streamed' }));
  await again.write(log.batch());
  expect(await server.rows('SELECT id, name FROM it_stage.staged FINAL ORDER BY id')).toEqual([
    { id: '1', name: 'snapshot' },
    { id: '2', name: 'streamed' },
  ]);
});

describe('bad input: one-line errors naming the option, nothing created', () => {
  test('unknown apply_mode', () => {
    expect(() => config({ dsn: server.dsn, apply_mode: 'magic' })).toThrow(/destinations\[0\]\.options\.apply_mode/);
  });
  test('meta_order_by naming a column the meta table lacks', () => {
    expect(() => config({ dsn: server.dsn, meta_order_by: 'flow_id, nope' })).toThrow(
      /destinations\[0\]\.options\.meta_order_by: names "nope", which is not a column of the meta table/,
    );
  });
  test('database and schema together, a dsn that is not http(s)', () => {
    expect(() => config({ dsn: server.dsn, database: 'a', schema: 'b' })).toThrow(/options\.database/);
    expect(() => config({ dsn: 'clickhouse://u:secret@h:9000/db' })).toThrow(/options\.dsn: has scheme clickhouse/);
  });
  test('an unreachable dsn fails open() at once, names the option, hides the password', async () => {
    const kind = getDestinationKind('clickhouse', 'destinations[0].type');
    const d = await kind.create(kind.parseConfig({ dsn: 'http://u:hunter2@127.0.0.1:1/db' }, 'destinations[0].options'), destinationContext());
    const started = Date.now();
    const err = await d.open().catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err).toBeInstanceOf(DuctError);
    expect((err as DuctError).field).toBe('destinations[0].options.dsn');
    expect((err as Error).message).toMatch(/destinations\[0\]\.options\.dsn: ClickHouse does not answer/);
    expect((err as Error).message).not.toContain('\n');
    expect(`${(err as Error).message} ${(err as DuctError).hint}`).not.toContain('hunter2');
    await d.close();
  });
});
