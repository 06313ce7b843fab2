import { OptionReader } from '../../src/config/options';
import type { Change, Row, TableSchema } from '../../src/core/change';
import { DuctError } from '../../src/core/errors';
import { duckdbDialect } from '../../src/destinations/duckdb/dialect';
import { tableLayout, type TableLayout } from '../../src/destinations/sql/layout';
import { readWarehouseOptions } from '../../src/destinations/sql/options';
import { continuedChanges, planTable, type PlannedRow, type TablePlan } from '../../src/destinations/sql/plan';
import { ChangeLog, table, type TxBuilder } from '../support/changes';
import { keyIdOf, type KeyId } from '../../src/destinations/sql/row-key';
import { OpenTransactionImages } from '../../src/destinations/sql/open-transaction';

const users = table('public.users', { id: 'int8', name: 'text', bio: 'text' }, { primaryKey: ['id'] });

function layout(schema: TableSchema, options: Record<string, string> = {}): TableLayout {
  const o = readWarehouseOptions(new OptionReader(options, 'd'), 'd');
  return tableLayout(schema, { schema: schema.schema, name: schema.name }, o, duckdbDialect);
}

/** The parts of planned rows a reader cares about. */
function summary(rows: PlannedRow[]): unknown[] {
  return rows.map((r) => ({
    action: r.action,
    values: r.values,
    ...(r.fill.length ? { fill: r.fill, fillFrom: r.fillFrom } : {}),
    op: r.change.op,
    ...(r.deleted ? { deleted: true } : {}),
  }));
}

describe('target mode plans', () => {
  test('several changes to a row collapse to the last image', () => {
    const log = new ChangeLog();
    const changes = log.tx((t) =>
      t.insert(users, { id: 1n, name: 'a', bio: 'x' }).update(users, { id: 1n, name: 'b', bio: 'y' }).update(users, { id: 1n, name: 'c', bio: 'z' }),
    );
    const plan = planTable(layout(users), changes);
    expect(summary(plan.rows)).toEqual([{ action: 'upsert', values: { id: 1n, name: 'c', bio: 'z' }, op: 'update' }]);
    expect(plan.last).toBe(changes[2]);
    expect(plan.truncate).toBeNull();
  });

  test('insert-then-delete deletes; delete-then-reinsert upserts the new row', () => {
    const log = new ChangeLog();
    const changes = log.tx((t) =>
      t.insert(users, { id: 1n, name: 'a', bio: null }).delete(users, { id: 1n }).delete(users, { id: 2n }).insert(users, { id: 2n, name: 'again', bio: null }),
    );
    expect(summary(planTable(layout(users), changes).rows)).toEqual([
      { action: 'delete', values: { id: 1n }, op: 'delete', deleted: true },
      { action: 'upsert', values: { id: 2n, name: 'again', bio: null }, op: 'insert' },
    ]);
  });

  test('an update without TOAST columns fills them from the destination row at the old key', () => {
    const log = new ChangeLog();
    const changes = log.tx((t) => t.update(users, { id: 1n, name: 'a' }, { unchangedToast: ['bio'] }));
    expect(summary(planTable(layout(users), changes).rows)).toEqual([
      { action: 'upsert', values: { id: 1n, name: 'a' }, fill: ['bio'], fillFrom: { id: 1n }, op: 'update' },
    ]);
  });

  test('a key move deletes the old key and carries the fill source along further updates', () => {
    const log = new ChangeLog();
    const changes = log.tx((t) => {
      t.update(users, { id: 2n, name: 'moved' }, { before: { id: 1n }, unchangedToast: ['bio'] });
      t.update(users, { id: 3n, name: 'again' }, { before: { id: 2n }, unchangedToast: ['bio'] });
    });
    expect(summary(planTable(layout(users), changes).rows)).toEqual([
      { action: 'delete', values: { id: 1n }, op: 'update', deleted: true },
      { action: 'delete', values: { id: 2n }, op: 'update', deleted: true },
      { action: 'upsert', values: { id: 3n, name: 'again' }, fill: ['bio'], fillFrom: { id: 1n }, op: 'update' },
    ]);
  });

  test('TOAST columns of a row inserted earlier in the batch come from that insert', () => {
    const log = new ChangeLog();
    const changes = log.tx((t) =>
      t.insert(users, { id: 1n, name: 'a', bio: 'long' }).update(users, { id: 5n, name: 'b' }, { before: { id: 1n }, unchangedToast: ['bio'] }),
    );
    expect(summary(planTable(layout(users), changes).rows)).toEqual([
      { action: 'delete', values: { id: 1n }, op: 'update', deleted: true },
      { action: 'upsert', values: { id: 5n, name: 'b', bio: 'long' }, op: 'update' },
    ]);
  });

  test('REPLICA IDENTITY FULL: the old row supplies unchanged columns, no destination read', () => {
    const full = table('public.full', { id: 'int8', name: 'text', bio: 'text' }, { primaryKey: ['id'], replicaIdentity: 'full' });
    const log = new ChangeLog();
    const changes = log.tx((t) => t.update(full, { id: 1n, name: 'new' }, { before: { id: 1n, name: 'old', bio: 'kept' }, unchangedToast: ['bio'] }));
    expect(summary(planTable(layout(full), changes).rows)).toEqual([{ action: 'upsert', values: { id: 1n, name: 'new', bio: 'kept' }, op: 'update' }]);
  });

  test('a truncate drops the rows before it and no later row reads the destination', () => {
    const log = new ChangeLog();
    const changes = [
      ...log.tx((t) => t.insert(users, { id: 1n, name: 'a', bio: null })),
      ...log.tx((t) => t.truncate(users)),
      ...log.tx((t) => t.update(users, { id: 2n, name: 'b' }, { unchangedToast: ['bio'] })),
    ];
    const plan = planTable(layout(users), changes);
    expect(plan.truncate).toBe(changes[1]);
    expect(summary(plan.rows)).toEqual([{ action: 'upsert', values: { id: 2n, name: 'b' }, op: 'update' }]);
  });

  test('soft delete: known rows are rewritten flagged, others flagged in place', () => {
    const log = new ChangeLog();
    const changes = log.tx((t) => t.insert(users, { id: 1n, name: 'a', bio: null }).delete(users, { id: 1n }).delete(users, { id: 2n }));
    expect(summary(planTable(layout(users, { soft_delete: 'true' }), changes).rows)).toEqual([
      { action: 'upsert', values: { id: 1n, name: 'a', bio: null }, op: 'delete', deleted: true },
      { action: 'soft_delete', values: { id: 2n }, op: 'delete', deleted: true },
    ]);
  });

  test('a change without its key is a permanent source error', () => {
    const log = new ChangeLog();
    const [c] = log.tx((t) => t.delete(users, { id: 1n }));
    expect(() => planTable(layout(users), [{ ...c!, key: {}, before: null }])).toThrow(DuctError);
  });
});

describe('append mode plans', () => {
  test("one row per change; TOAST columns from the batch, else from the destination's latest row", () => {
    const log = new ChangeLog();
    const changes = log.tx((t) => {
      t.update(users, { id: 1n, name: 'a' }, { unchangedToast: ['bio'] });
      t.insert(users, { id: 2n, name: 'b', bio: 'long' });
      t.update(users, { id: 2n, name: 'c' }, { unchangedToast: ['bio'] });
      t.delete(users, { id: 2n });
      t.truncate(users);
    });
    expect(summary(planTable(layout(users, { write_mode: 'append' }), changes).rows)).toEqual([
      { action: 'append', values: { id: 1n, name: 'a' }, fill: ['bio'], fillFrom: { id: 1n }, op: 'update' },
      { action: 'append', values: { id: 2n, name: 'b', bio: 'long' }, op: 'insert' },
      { action: 'append', values: { id: 2n, name: 'c', bio: 'long' }, op: 'update' },
      { action: 'append', values: { id: 2n, name: 'c', bio: 'long' }, op: 'delete', deleted: true },
      { action: 'append', values: {}, op: 'truncate' },
    ]);
  });

  test('append_mode=true is append mode', () => {
    expect(layout(users, { append_mode: 'true' }).mode).toBe('append');
    expect(layout(users, { append_mode: 'true' }).constraintKey).toEqual([]);
  });
});

describe('tables without a key', () => {
  const full = table('public.events', { kind: 'text', n: 'int4' }, { replicaIdentity: 'full' });
  const plain = table('public.logs', { line: 'text' });

  test('FULL identity: an update removes one equal row and inserts the new one', () => {
    const log = new ChangeLog();
    const changes = log.tx((t) =>
      t
        .insert(full, { kind: 'a', n: 1 })
        .update(full, { kind: 'a', n: 2 }, { before: { kind: 'a', n: 1 } })
        .delete(full, { kind: 'a', n: 2 }),
    );
    expect(summary(planTable(layout(full), changes).rows)).toEqual([
      { action: 'insert', values: { kind: 'a', n: 1 }, op: 'insert' },
      { action: 'delete_one', values: { kind: 'a', n: 1 }, op: 'update', deleted: true },
      { action: 'insert', values: { kind: 'a', n: 2 }, op: 'update' },
      { action: 'delete_one', values: { kind: 'a', n: 2 }, op: 'delete', deleted: true },
    ]);
  });

  test('default identity: inserts plan, an update or delete is refused with the fix', () => {
    const log = new ChangeLog();
    expect(
      planTable(
        layout(plain),
        log.tx((t) => t.insert(plain, { line: 'x' })),
      ).rows,
    ).toHaveLength(1);
    const del = log.tx((t) => t.delete(plain, { line: 'x' }));
    try {
      planTable(layout(plain), del);
      throw new Error('expected a refusal');
    } catch (e) {
      expect(e).toBeInstanceOf(DuctError);
      expect((e as DuctError).retry).toBe('never');
      expect((e as DuctError).hint).toBe(
        'add a primary key to public.logs, or run ALTER TABLE public.logs REPLICA IDENTITY FULL on the source so rows can be matched on all old values',
      );
    }
  });
});

describe('row keys', () => {
  test('an int8 key matches across number and bigint values; text keys never match integers', () => {
    const log = new ChangeLog();
    const changes = log.tx((t) => t.insert(users, { id: 1n, name: 'a', bio: null }).update(users, { id: 1, name: 'b', bio: null }));
    expect(summary(planTable(layout(users), changes).rows)).toEqual([{ action: 'upsert', values: { id: 1, name: 'b', bio: null }, op: 'update' }]);
    const codes = table('public.codes', { code: 'text', n: 'int4' }, { primaryKey: ['code'] });
    const mixed = log.tx((t) =>
      t
        .insert(codes, { code: '1', n: 1 })
        .insert(codes, { code: 1, n: 2 })
        .insert(codes, { code: '\u0000x01', n: 3 })
        .insert(codes, { code: Buffer.from([1]), n: 4 }),
    );
    expect(planTable(layout(codes), mixed).rows.map((r) => r.values.n)).toEqual([1, 2, 3, 4]);
  });

  test('keys beyond 2^53 stay exact; composite keys match column by column', () => {
    const log = new ChangeLog();
    const changes = log.tx((t) =>
      t
        .insert(users, { id: 9007199254740993n, name: 'a', bio: null })
        .insert(users, { id: 9007199254740992n, name: 'b', bio: null })
        .update(users, { id: 9007199254740993n, name: 'c', bio: null }),
    );
    expect(planTable(layout(users), changes).rows.map((r) => r.values.name)).toEqual(['c', 'b']);
    const pairs = table('public.pairs', { a: 'text', b: 'text', v: 'int4' }, { primaryKey: ['a', 'b'] });
    const rows = log.tx((t) =>
      t.insert(pairs, { a: 'x', b: 'y', v: 1 }).insert(pairs, { a: 'x\u0001sy', b: '', v: 2 }).update(pairs, { a: 'x', b: 'y', v: 3 }),
    );
    expect(planTable(layout(pairs), rows).rows.map((r) => r.values.v)).toEqual([3, 2]);
    const split = log.tx((t) => t.insert(pairs, { a: 'a\u0001sb', b: 'c', v: 1 }).insert(pairs, { a: 'a', b: 'b\u0001sc', v: 2 }));
    expect(planTable(layout(pairs), split).rows.map((r) => r.values.v)).toEqual([1, 2]);
  });
});

describe('DEFERRABLE keys: key changes inside one batch end with the source state', () => {
  const kv = { ...table('public.kv', { id: 'int8', v: 'text', big: 'text' }, { primaryKey: ['id'] }), keyDeferrable: true };
  const kvFull = { ...table('public.kvf', { id: 'int8', v: 'text', big: 'text' }, { primaryKey: ['id'], replicaIdentity: 'full' }), keyDeferrable: true };

  /** Applies a plan to a destination held as key → row, the way the apply statements do (fill reads the state before the batch). */
  function apply(dest: Map<bigint, Row>, plan: TablePlan): Map<bigint, Row> {
    const before = new Map(dest);
    const out = new Map(dest);
    for (const r of plan.rows.filter((x) => x.action === 'delete')) out.delete(r.values.id as bigint);
    for (const r of plan.rows.filter((x) => x.action === 'upsert')) {
      const values = { ...r.values };
      const from = r.fillFrom ? before.get(r.fillFrom.id as bigint) : undefined;
      for (const c of r.fill) values[c] = from?.[c] ?? null;
      out.set(values.id as bigint, values);
    }
    return out;
  }

  const held = (dest: Map<bigint, Row>): Set<KeyId> => new Set([...dest.keys()].map((id) => keyIdOf(['id'])({ id })));
  const start = (): Map<bigint, Row> => new Map([1n, 2n, 3n, 4n, 5n, 6n].map((id) => [id, { id, v: `v${id}`, big: `big${id}` }] as [bigint, Row]));
  const sorted = (m: Map<bigint, Row>): Row[] => [...m.values()].sort((a, b) => Number((a.id as bigint) - (b.id as bigint)));
  const move = (t: TxBuilder, from: bigint, to: bigint, v: string): TxBuilder =>
    t.update(kv, { id: to, v, big: `big${from}` }, { before: { id: from }, unchangedToast: ['big'] });

  test('a swap (SET id = CASE id WHEN 1 THEN 2 WHEN 2 THEN 1 END) keeps both rows', () => {
    const log = new ChangeLog();
    const changes = log.tx((t) => {
      move(t, 1n, 2n, 'was1');
      move(t, 2n, 1n, 'was2');
    });
    expect(sorted(apply(start(), planTable(layout(kv), changes, held(start()))))).toEqual([
      { id: 1n, v: 'was2', big: 'big2' },
      { id: 2n, v: 'was1', big: 'big1' },
      ...sorted(start()).slice(2),
    ]);
  });

  test('a cycle of three, a move and back, and a swap in one transaction', () => {
    const log = new ChangeLog();
    const changes = log.tx((t) => {
      move(t, 3n, 4n, 'was3');
      move(t, 4n, 5n, 'was4');
      move(t, 5n, 3n, 'was5');
      move(t, 6n, 60n, 'away');
      move(t, 60n, 6n, 'back');
      move(t, 1n, 2n, 'was1');
      move(t, 2n, 1n, 'was2');
    });
    expect(sorted(apply(start(), planTable(layout(kv), changes, held(start()))))).toEqual([
      { id: 1n, v: 'was2', big: 'big2' },
      { id: 2n, v: 'was1', big: 'big1' },
      { id: 3n, v: 'was5', big: 'big5' },
      { id: 4n, v: 'was3', big: 'big3' },
      { id: 5n, v: 'was4', big: 'big4' },
      { id: 6n, v: 'back', big: 'big6' },
    ]);
  });

  test('a chain over committed transactions moves one row (the key it left is empty)', () => {
    const log = new ChangeLog();
    const changes = [...log.tx((t) => move(t, 1n, 10n, 'a')), ...log.tx((t) => move(t, 10n, 11n, 'b'))];
    const state = sorted(apply(start(), planTable(layout(kv), changes, held(start()))));
    expect(state.map((r) => r.id)).toEqual([2n, 3n, 4n, 5n, 6n, 11n]);
    expect(state.at(-1)).toEqual({ id: 11n, v: 'b', big: 'big1' });
  });

  test('an insert deleted in the transaction that swaps keys leaves no row', () => {
    const log = new ChangeLog();
    const changes = log.tx((t) => {
      t.insert(kv, { id: 7n, v: 'tmp', big: 'x' });
      move(t, 1n, 2n, 'was1');
      move(t, 2n, 1n, 'was2');
      t.delete(kv, { id: 7n });
    });
    expect(sorted(apply(start(), planTable(layout(kv), changes, held(start())))).map((r) => r.id)).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
  });

  test('REPLICA IDENTITY FULL: a swap and a cycle cut between two writes keep every row', () => {
    const full = (t: TxBuilder, from: bigint, to: bigint): TxBuilder =>
      t.update(kvFull, { id: to, v: `v${from}`, big: `big${from}` }, { before: { id: from, v: `v${from}`, big: `big${from}` } });
    const log = new ChangeLog();
    const changes = log.tx((t) => {
      full(t, 1n, 2n);
      full(t, 2n, 1n);
      full(t, 3n, 4n);
      full(t, 4n, 5n);
      full(t, 5n, 3n);
    });
    const l = layout(kvFull);
    /** The destination's answer to heldKeys: continued changes whose old row is not the one at their old key. */
    const replaced = (dest: Map<bigint, Row>, part: Change[]): Set<Change> =>
      new Set(
        continuedChanges(l, part).filter((c) => {
          const row = dest.get(c.before!.id as bigint);
          return row?.v !== c.before!.v || row?.big !== c.before!.big;
        }),
      );
    for (const cut of [1, 2, 3, 4]) {
      const first = apply(start(), planTable(l, changes.slice(0, cut), held(start())));
      const rest = changes.slice(cut);
      expect(continuedChanges(l, rest)).toHaveLength(rest.length);
      const state = sorted(apply(first, planTable(l, rest, held(first), replaced(first, rest))));
      expect(state.map((r) => [r.id, r.v])).toEqual([
        [1n, 'v2'],
        [2n, 'v1'],
        [3n, 'v5'],
        [4n, 'v3'],
        [5n, 'v4'],
        [6n, 'v6'],
      ]);
    }
  });

  test('a swap and a cycle cut between writes, without asking the destination: stream order decides (also rebuilt after a restart)', () => {
    const full = (t: TxBuilder, from: bigint, to: bigint): TxBuilder =>
      t.update(kvFull, { id: to, v: `v${from}`, big: `big${from}` }, { before: { id: from, v: `v${from}`, big: `big${from}` } });
    const log = new ChangeLog();
    // Cut before their Commit arrived: the transaction is still open after the first write.
    const changes = log
      .tx((t) => {
        full(t, 1n, 2n);
        full(t, 2n, 1n);
        full(t, 3n, 4n);
        full(t, 4n, 5n);
        full(t, 5n, 3n);
      })
      .map((c) => ({ ...c, commitEndLsn: 0n }));
    const l = layout(kvFull);
    for (const cut of [1, 2, 3, 4]) {
      for (const restarted of [false, true, 'retried'] as const) {
        const part = changes.slice(0, cut);
        const firstPlan = planTable(l, part);
        const first = apply(start(), firstPlan);
        const open = new OpenTransactionImages();
        // A restart replays the transaction from its start: the watermark skips the first part.
        if (restarted === true) open.rebuild(l, part);
        else open.written(l, part, firstPlan.rows);
        // The same write delivered again (another destination failed): the watermark skips it all.
        if (restarted === 'retried') open.rebuild(l, part);
        const rest = changes.slice(cut);
        const state = sorted(apply(first, planTable(l, rest, undefined, open.replaced(l, continuedChanges(l, rest)))));
        expect({ cut, restarted, rows: state.map((r) => [r.id, r.v]) }).toEqual({
          cut,
          restarted,
          rows: [
            [1n, 'v2'],
            [2n, 'v1'],
            [3n, 'v5'],
            [4n, 'v3'],
            [5n, 'v4'],
            [6n, 'v6'],
          ],
        });
      }
    }
  });

  test('REPLICA IDENTITY FULL: the old values tell which of two rows at a key a change moves', () => {
    const log = new ChangeLog();
    // UPDATE SET id = 2 WHERE id = 1; UPDATE SET id = 9 WHERE id = 2 AND v = 'v1' (the moved row, not the original 2).
    const changes = log.tx((t) => {
      t.update(kvFull, { id: 2n, v: 'v1', big: 'big1' }, { before: { id: 1n, v: 'v1', big: 'big1' } });
      t.update(kvFull, { id: 9n, v: 'v1', big: 'big1' }, { before: { id: 2n, v: 'v1', big: 'big1' } });
    });
    const state = sorted(apply(start(), planTable(layout(kvFull), changes, held(start()))));
    expect(state.map((r) => [r.id, r.v])).toEqual([
      [2n, 'v2'],
      [3n, 'v3'],
      [4n, 'v4'],
      [5n, 'v5'],
      [6n, 'v6'],
      [9n, 'v1'],
    ]);
  });
});
