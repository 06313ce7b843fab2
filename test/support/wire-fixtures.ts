import type { Change, ChangeOp, Row, TableSchema } from '../../src/core/change';
import { column, table } from './changes';
import { epochMicrosToTimestamp } from '../../src/core/time';

/**
 * Changes and table schemas for codec tests, built directly in the exact JS value forms the source
 * produces (see `ValueKind`; columns come from the shared builders in `changes.ts`): one table with a column of every common PostgreSQL type, and rows with
 * ordinary values (A), extremes and special values (B) and NULLs everywhere (C).
 */

/** typmod of `numeric(p,s)`. */
export function numericTypmod(p: number, s: number): number {
  return ((p << 16) | (s & 0x7ff)) + 4;
}

export const ALL_TYPES: TableSchema = table(
  'public.all_types',
  [
    column('id', 'int8', { nullable: false }),
    ...Object.entries({
      b: 'bool',
      i2: 'int2',
      i4: 'int4',
      i8: 'int8',
      f4: 'float4',
      f8: 'float8',
      n30: 'numeric(30,10)',
      n: 'numeric',
      t: 'text',
      vc: 'varchar(20)',
      by: 'bytea',
      j: 'json',
      jb: 'jsonb',
      u: 'uuid',
      d: 'date',
      ts: 'timestamp',
      tstz: 'timestamptz',
      tm: 'time',
      tmtz: 'timetz',
      iv: 'interval',
      mood: 'public.mood',
      ta: 'text[]',
      ia: 'int4[]',
      na: 'numeric(10,2)[]',
      ba: 'bytea[]',
      ja: 'jsonb[]',
      i8a: 'int8[]',
      im: 'int4[]',
    }).map(([name, spec]) => column(name, spec)),
  ],
  { primaryKey: ['id'] },
);

/** Ordinary values, every one representable by every typed format (except `im`, a 2-D array). */
export const ROW_A: Row = {
  id: 1n,
  b: true,
  i2: -32768,
  i4: 2147483647,
  i8: -9223372036854775808n,
  f4: 3.14,
  f8: 1.7976931348623157e308,
  n30: '12345678901234567890.1234567890',
  n: '123456789012345678901234567890.123456789012345678901234567890',
  t: 'héllo "wörld" \\ \n\ttab 🎉 中文',
  vc: 'varchar',
  by: Buffer.from([0, 1, 0, 255, 0]),
  j: '{"big": 123456789012345678901234567890, "f": 1.000000000000000000001, "arr": [1, 2]}',
  jb: '{"a": 9007199254740993, "nested": {"x": [1.5e300, null, true]}}',
  u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  d: '-000043-03-15',
  ts: '1969-07-20T20:17:40.123456',
  tstz: '2262-04-11T23:47:16.854775Z',
  tm: '23:59:59.999999',
  tmtz: '12:34:56.789+05:30',
  iv: '1 year 2 mons 3 days 04:05:06.789',
  mood: 'happy',
  ta: ['a', null, 'c "q"', ''],
  ia: [1, null, -3],
  na: ['1.50', null, '-2.25'],
  ba: [Buffer.from([0, 0]), null, Buffer.alloc(0)],
  ja: ['{"a": 1}', null, '[1, 2]'],
  i8a: [9223372036854775807n, null],
  im: [
    [1, 2],
    [3, null],
  ],
};

/** Extremes and values some formats can only carry by their text fallback. */
export const ROW_B: Row = {
  id: 9223372036854775807n,
  b: false,
  i2: 32767,
  i4: -2147483648,
  i8: 9223372036854775807n,
  f4: Number.NaN,
  f8: -0,
  n30: 'NaN',
  n: '-Infinity',
  t: '',
  vc: 'x',
  by: Buffer.alloc(0),
  j: '[]',
  jb: '{"neg": -0.0000000000000000000001e-400}',
  u: '00000000-0000-0000-0000-000000000000',
  d: 'infinity',
  ts: '-infinity',
  tstz: '1901-12-13T20:45:52.000001Z',
  tm: '24:00:00',
  tmtz: '00:00:00+00',
  iv: '-178000000 years',
  mood: 'sad',
  ta: [],
  ia: [null],
  na: ['NaN'],
  ba: [],
  ja: [],
  i8a: [-9223372036854775808n],
  im: [],
};

/** Every nullable column NULL. */
export const ROW_C: Row = Object.fromEntries(ALL_TYPES.columns.map((c) => [c.name, c.nullable ? null : 3n]));

/** A row whose every value is typed-representable: ROW_A without the 2-D array. */
export const ROW_TYPED: Row = { ...ROW_A, im: [1, null] };

export interface ChangeSpec {
  op?: ChangeOp;
  table?: { schema: string; name: string };
  key?: Row;
  before?: Row | null;
  after?: Row | null;
  unchangedToast?: string[];
  lsn?: bigint;
  commitLsn?: bigint;
  commitTimeMicros?: bigint;
  xid?: number;
  seq?: number;
}

const FIXTURE_COMMIT_LSN = (1n << 32n) | 0x16b6d00n;

/** A change with sensible defaults: an insert of `after` keyed by its `id`. */
export function makeChange(spec: ChangeSpec): Change {
  const op = spec.op ?? 'insert';
  const after = spec.after === undefined ? null : spec.after;
  const keySource = after ?? spec.before ?? null;
  return {
    op,
    table: spec.table ?? { schema: ALL_TYPES.schema, name: ALL_TYPES.name },
    lsn: spec.lsn ?? 0x16b6c50n,
    commitLsn: spec.commitLsn ?? FIXTURE_COMMIT_LSN,
    commitEndLsn: (spec.commitLsn ?? FIXTURE_COMMIT_LSN) + 48n,
    commitTimeMicros: spec.commitTimeMicros ?? 1_714_564_800_123_456n,
    xid: spec.xid ?? 4_294_967_295,
    seq: spec.seq ?? 0,
    key: spec.key ?? (op === 'truncate' || !keySource ? {} : { id: keySource.id! }),
    before: spec.before ?? null,
    after,
    unchangedToast: spec.unchangedToast ?? [],
    ...(op === 'truncate' ? { truncateOptions: { cascade: false, restartIdentity: false } } : {}),
  };
}

/** One change of every op over the all-types table, with every row variant. */
export function sampleChanges(): Change[] {
  const { t: _omitted, ...afterWithoutT } = ROW_A;
  void _omitted;
  return [
    makeChange({ after: ROW_A, seq: 0 }),
    makeChange({ after: ROW_B, seq: 1, lsn: 0x16b6c60n }),
    makeChange({ after: ROW_C, seq: 2, lsn: 0x16b6c70n }),
    makeChange({ op: 'update', before: ROW_C, after: ROW_A, seq: 3, lsn: 0x16b6c80n }),
    makeChange({ op: 'update', after: afterWithoutT, unchangedToast: ['t'], seq: 4, lsn: 0x16b6c90n }),
    makeChange({ op: 'delete', key: { id: 1n }, seq: 5, lsn: 0x16b6ca0n }),
    makeChange({ op: 'delete', before: ROW_B, seq: 6, lsn: 0x16b6cb0n, commitTimeMicros: -86_400_000_000n * 365n * 80n + 1n }),
    makeChange({ op: 'truncate', seq: 7, lsn: 0x16b6cc0n, commitTimeMicros: 4_102_444_800_000_000n }),
  ];
}

/** Changes whose values every typed format holds in its own types (no fallback columns). */
export function typedChanges(): Change[] {
  return [
    makeChange({ after: ROW_TYPED, seq: 0 }),
    makeChange({ after: ROW_C, seq: 1 }),
    makeChange({ op: 'update', before: ROW_C, after: ROW_TYPED, seq: 2 }),
    makeChange({ op: 'delete', key: { id: 1n }, seq: 3 }),
  ];
}

/** A table of the usual CDC shape for benches: mixed types, no exotic values. */
export const MIXED: TableSchema = table(
  'public.orders',
  [
    column('id', 'int8', { nullable: false }),
    ...Object.entries({
      customer_id: 'int4',
      status: 'text',
      amount: 'numeric(12,2)',
      weight: 'float8',
      paid: 'bool',
      created_at: 'timestamptz',
      ship_date: 'date',
      note: 'text',
      payload: 'jsonb',
      tags: 'text[]',
      ref: 'uuid',
    }).map(([name, spec]) => column(name, spec)),
  ],
  { primaryKey: ['id'] },
);

/** `n` inserts into MIXED with varied, deterministic values. */
export function mixedChanges(n: number): Change[] {
  const out: Change[] = [];
  const base = 1_714_564_800_000_000n;
  for (let i = 0; i < n; i++) {
    const id = BigInt(i + 1);
    const after: Row = {
      id,
      customer_id: (i * 7919) % 100000,
      status: ['new', 'paid', 'shipped', 'cancelled'][i % 4]!,
      amount: `${(i * 37) % 100000}.${String(i % 100).padStart(2, '0')}`,
      weight: (i % 1000) / 7,
      paid: i % 3 === 0,
      created_at: epochText(base + BigInt(i) * 1_000_123n),
      ship_date: `2024-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')}`,
      note: i % 5 === 0 ? null : `order note ${i} — ünïcode`,
      payload: `{"sku": "SKU-${i % 977}", "qty": ${i % 13}, "price": ${(i % 500) / 4}}`,
      tags: i % 2 ? ['a', 'b'] : ['c'],
      ref: `${(0x10000000 + i).toString(16)}-0000-4000-8000-${String(i).padStart(12, '0')}`,
    };
    out.push(makeChange({ table: { schema: 'public', name: 'orders' }, after, seq: i % 100, lsn: 0x1000000n + BigInt(i) * 64n }));
  }
  return out;
}

function epochText(micros: bigint): string {
  return epochMicrosToTimestamp(micros, true);
}
