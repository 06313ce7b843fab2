/**
 * The scenarios every destination runs through the `Destination` contract. Each one plays
 * transactions into a ChangeLog and hands the batches to `write`; the suite then compares what the
 * destination's reader returns with the state the log implies.
 */
import type { Row, TableSchema } from '../../src/core/change';
import type { EncodedBatch } from '../../src/destinations/destination';
import { ChangeLog, table } from '../support/changes';
import type { ScenarioName } from './subject';

export interface Scenario {
  name: ScenarioName;
  /** Short name usable in topic, bucket and file names. */
  slug: string;
  /** `parallelism` given to the destination (default 1). */
  parallelism?: number;
  tables: TableSchema[];
  play(log: ChangeLog, write: (batch: EncodedBatch) => Promise<void>, opts: { largeBatchRows: number }): Promise<void>;
}

const users = (suffix: string): TableSchema =>
  table(`public.users_${suffix}`, { id: 'int8', name: 'text', score: 'numeric(10,2)', active: 'bool' }, { primaryKey: ['id'] });

/** One table of every common type (as test/integration/destination-duckdb.test.ts). */
export const allTypes = table(
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

/** Values at the edges of every type: extremes, precision, special values, unicode, empty. */
export const allTypesRows: Row[] = [
  {
    id: 1,
    b: true,
    i2: -32768,
    i8: 9223372036854775807n,
    f4: 1.5,
    f8: 0.1 + 0.2,
    n: '12345678901234567890.0123456789',
    nbig: '123456789012345678901234567890123456789012345.12345',
    nfree: '-0.000000000000000000000000000000000001',
    txt: 'héllo wörld 日本 🎉 \'"\\,\n\t',
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
  },
  {
    id: 2,
    b: false,
    i2: 32767,
    i8: -9223372036854775808n,
    f4: -0.25,
    f8: -1e308,
    n: '-99999999999999999999.9999999999',
    nbig: 'NaN',
    nfree: '3.14159265358979323846264338327950288419716939937510',
    txt: '',
    vc: '',
    ch: '   ',
    by: Buffer.alloc(0),
    j: '[]',
    jb: '{}',
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
  },
  {
    id: 3,
    b: null,
    i2: null,
    i8: null,
    f4: null,
    f8: null,
    n: null,
    nbig: null,
    nfree: null,
    txt: null,
    vc: null,
    ch: null,
    by: null,
    j: null,
    jb: null,
    d: null,
    ts: null,
    tstz: null,
    tm: null,
    tmtz: null,
    iv: null,
    u: null,
    ai: null,
    at: null,
    an: null,
    ats: null,
    mood: null,
  },
  {
    id: 4,
    b: true,
    i2: 0,
    i8: 0n,
    f4: 16777216,
    f8: 5e-324,
    n: '0.0000000001',
    nbig: '0.00000',
    nfree: '0',
    txt: 'x'.repeat(10_000),
    vc: 'y',
    ch: 'zzz',
    by: Buffer.from('ff00'.repeat(2048), 'hex'),
    j: '{"deep": {"n": 12345678901234567890}}',
    jb: '[1, "two", {"3": null}]',
    d: 'infinity',
    ts: 'infinity',
    tstz: '-infinity',
    tm: '12:00:00',
    tmtz: '23:59:59.999999+14',
    iv: 'P1Y2M3DT4H5M6.000007S',
    u: 'ffffffff-ffff-ffff-ffff-ffffffffffff',
    ai: [null],
    at: [''],
    an: ['0.00'],
    ats: ['1970-01-01T00:00:00Z'],
    mood: '',
  },
];

export const SCENARIO_LIST: Scenario[] = [
  {
    name: 'inserts, updates and deletes',
    slug: 'iud',
    tables: [users('iud')],
    async play(log, write) {
      const [t] = this.tables as [TableSchema];
      log.tx((x) => {
        for (let i = 1; i <= 20; i++) x.insert(t, { id: BigInt(i), name: `u${i}`, score: `${i}.00`, active: true });
      });
      await write(log.batch());
      log.tx((x) => x.update(t, { id: 1n, name: 'one', score: '1.50', active: false }).update(t, { id: 1n, name: 'uno', score: '1.75', active: false }));
      log.tx((x) => x.delete(t, { id: 2n }).update(t, { id: 300n, name: 'moved', score: '3.00', active: true }, { before: { id: 3n } }));
      await write(log.batch());
      log.tx((x) =>
        x
          .insert(t, { id: 2n, name: 'again', score: null, active: null })
          .delete(t, { id: 20n })
          .update(t, { id: 19n, name: 'u19', score: '-0.01', active: true }),
      );
      await write(log.batch());
    },
  },
  {
    name: 'truncate',
    slug: 'trunc',
    tables: [users('trunc_a'), users('trunc_b')],
    async play(log, write) {
      const [a, b] = this.tables as [TableSchema, TableSchema];
      log.tx((x) => x.insert(a, { id: 1n, name: 'a1', score: null, active: true }).insert(b, { id: 1n, name: 'b1', score: null, active: true }));
      await write(log.batch());
      log.tx((x) => x.insert(a, { id: 2n, name: 'a2', score: null, active: true }).truncate(a).insert(a, { id: 3n, name: 'a3', score: '3.00', active: false }));
      log.tx((x) => x.update(b, { id: 1n, name: 'b1-after', score: null, active: false }));
      await write(log.batch());
    },
  },
  {
    name: 'a batch delivered twice',
    slug: 'replay',
    tables: [users('replay')],
    async play(log, write) {
      const [t] = this.tables as [TableSchema];
      log.tx((x) => {
        for (let i = 1; i <= 10; i++) x.insert(t, { id: BigInt(i), name: `v1-${i}`, score: '1.00', active: true });
      });
      const first = log.batch();
      log.tx((x) => {
        for (let i = 1; i <= 10; i++) x.update(t, { id: BigInt(i), name: `v2-${i}`, score: '2.00', active: i % 2 === 0 });
        x.delete(t, { id: 10n });
      });
      const second = log.batch();
      await write(first);
      await write(first);
      await write(second);
      // A crash between write and checkpoint replays from the checkpoint: older batches come again.
      await write(first);
      await write(second);
    },
  },
  {
    name: 'every common type with full precision',
    slug: 'types',
    tables: [allTypes],
    async play(log, write) {
      log.tx((x) => {
        for (const row of allTypesRows) x.insert(allTypes, row);
      });
      await write(log.batch());
      log.tx((x) => x.update(allTypes, { ...allTypesRows[0]!, f8: -0.5, n: '-0.0000000001', tstz: '2024-02-29T23:59:59.999999Z' }));
      await write(log.batch());
    },
  },
  {
    name: 'NULLs and unchanged TOAST values',
    slug: 'toast',
    tables: [table('public.docs', { id: 'int8', title: 'text', body: 'text', meta: 'jsonb', tags: 'text[]' }, { primaryKey: ['id'] })],
    async play(log, write) {
      const [t] = this.tables as [TableSchema];
      const big = 'lorem ipsum '.repeat(5000);
      log.tx((x) =>
        x.insert(t, { id: 1n, title: 't1', body: big, meta: '{"a": 1}', tags: ['x'] }).insert(t, { id: 2n, title: null, body: null, meta: null, tags: null }),
      );
      await write(log.batch());
      log.tx((x) => x.update(t, { id: 1n, title: 't1-new', body: big, meta: '{"a": 1}', tags: ['x'] }, { unchangedToast: ['body', 'meta'] }));
      log.tx((x) => x.update(t, { id: 2n, title: 'now set', body: null, meta: null, tags: [null] }));
      await write(log.batch());
      log.tx((x) => x.update(t, { id: 1n, title: null, body: big, meta: '{"a": 1}', tags: null }, { unchangedToast: ['body'] }));
      await write(log.batch());
    },
  },
  {
    name: 'a large batch',
    slug: 'large',
    tables: [users('large')],
    async play(log, write, { largeBatchRows }) {
      const [t] = this.tables as [TableSchema];
      const half = Math.floor(largeBatchRows / 2);
      log.tx((x) => {
        for (let i = 0; i < half; i++)
          x.insert(t, { id: BigInt(i), name: `n${i}`, score: `${i % 1000}.${String(i % 100).padStart(2, '0')}`, active: i % 3 === 0 });
      });
      log.tx((x) => {
        for (let i = 0; i < largeBatchRows - half; i++) {
          if (i % 5 === 0) x.delete(t, { id: BigInt(i) });
          else x.update(t, { id: BigInt(i), name: `m${i}`, score: '0.00', active: false });
        }
      });
      await write(log.batch());
    },
  },
  {
    name: 'several tables in one flow',
    slug: 'multi',
    tables: [
      users('multi'),
      table('sales.orders', { order_id: 'int8', user_id: 'int8', total: 'numeric(12,2)', placed: 'timestamptz' }, { primaryKey: ['order_id'] }),
      table('public.order_items', { order_id: 'int8', line: 'int4', sku: 'text', qty: 'int4' }, { primaryKey: ['order_id', 'line'] }),
    ],
    async play(log, write) {
      const [u, o, li] = this.tables as [TableSchema, TableSchema, TableSchema];
      for (let n = 1; n <= 5; n++) {
        log.tx((x) => {
          x.insert(u, { id: BigInt(n), name: `user${n}`, score: null, active: true });
          x.insert(o, { order_id: BigInt(100 + n), user_id: BigInt(n), total: `${n}9.99`, placed: `2024-03-0${n}T10:00:00.00000${n}Z` });
          for (let l = 1; l <= 3; l++) x.insert(li, { order_id: BigInt(100 + n), line: l, sku: `sku-${n}-${l}`, qty: l });
        });
        if (n % 2 === 0) await write(log.batch());
      }
      log.tx((x) =>
        x
          .update(li, { order_id: 101n, line: 2, sku: 'sku-1-2', qty: 20 })
          .delete(li, { order_id: 102n, line: 3 })
          .update(o, { order_id: 103n, user_id: 3n, total: '0.00', placed: '2024-03-03T10:00:00Z' })
          .delete(u, { id: 5n }),
      );
      await write(log.batch());
    },
  },
  {
    name: 'parallelism > 1',
    slug: 'par',
    parallelism: 4,
    tables: [users('par_a'), users('par_b')],
    async play(log, write) {
      const [a, b] = this.tables as [TableSchema, TableSchema];
      // Many keys, each changed several times inside one batch and across batches: per-row order must hold.
      for (let round = 0; round < 3; round++) {
        for (let step = 0; step < 4; step++) {
          log.tx((x) => {
            for (let k = 0; k < 100; k++) {
              const row = { id: BigInt(k), name: `r${round}s${step}k${k}`, score: `${round}.${step}${k % 10}`, active: (k + step) % 2 === 0 };
              if (round === 0 && step === 0) x.insert(k % 2 ? a : b, row);
              else if (round === 2 && step === 3 && k % 7 === 0) x.delete(k % 2 ? a : b, { id: BigInt(k) });
              else x.update(k % 2 ? a : b, row);
            }
          });
        }
        await write(log.batch());
      }
    },
  },
];
