import type { Batch, Change, Column, Row, TableSchema } from '../../src/core/change';
import { silentLogger as log } from '../../src/core/log';
import type { SourceRowReader } from '../../src/core/sourceRows';
import { eventsOf, eventsWithSource, type OutgoingEvent } from '../../src/destinations/keyChanges';
import { KeyMoveTables } from '../../src/destinations/keyMoves';

/**
 * Delete changes of a DEFERRABLE-key table next to key moves, in one transaction: the records
 * eventsOf sends per key, replayed as log compaction would (last record per key, a delete or
 * tombstone removes it), must be the rows the source holds at commit — whatever the order of the
 * move and the delete, and however the transaction is cut across writes.
 */
const col = (name: string, valueKind: Column['valueKind']): Column => ({
  name,
  pgType: valueKind === 'int' ? 'int4' : 'text',
  typeOid: valueKind === 'int' ? 23 : 25,
  typmod: -1,
  formattedType: valueKind === 'int' ? 'integer' : 'text',
  nullable: name !== 'id',
  valueKind,
});
const SCHEMA: TableSchema = {
  schema: 'public',
  name: 'sw',
  relationId: 1,
  columns: [col('id', 'int'), col('v', 'text')],
  primaryKey: ['id'],
  replicaIdentity: 'full',
  keyDeferrable: true,
};

let seq = 0;
const at = (commitLsn: bigint): Omit<Change, 'op' | 'key' | 'before' | 'after'> => ({
  table: { schema: 'public', name: 'sw' },
  lsn: commitLsn - 50n + BigInt(seq),
  commitLsn,
  commitEndLsn: commitLsn + 1n,
  commitTimeMicros: 0n,
  xid: Number(commitLsn),
  seq: seq++,
  unchangedToast: [],
});
/** Row `from`/`v` moved to key `to` (REPLICA IDENTITY FULL: the whole old row). */
const move = (lsn: bigint, from: number, to: number, v: string): Change => ({
  ...at(lsn),
  op: 'update',
  key: { id: to },
  before: { id: from, v },
  after: { id: to, v },
});
const del = (lsn: bigint, id: number, v: string): Change => ({ ...at(lsn), op: 'delete', key: { id, v }, before: null, after: null });
const ins = (lsn: bigint, id: number, v: string): Change => ({ ...at(lsn), op: 'insert', key: { id }, before: null, after: { id, v } });

function batch(changes: Change[]): Batch {
  return { flowId: 'f', changes, schemas: new Map([['public.sw', SCHEMA]]), firstLsn: changes[0]!.lsn, checkpointLsn: 0n };
}

/** Compaction of the events: key → the last live image (`id|v`), deleted keys removed. */
function compact(events: OutgoingEvent[], into = new Map<string, string>()): Map<string, string> {
  for (const e of events) {
    if ((e.kind === 'change' || e.kind === 'refresh') && e.change.op !== 'delete') into.set(e.rowKey, text(e.change.after!));
    else into.delete(e.rowKey);
  }
  return into;
}
const text = (r: Row): string => `${String(r.id)}|${String(r.v)}`;
const live = (m: Map<string, string>): string[] => [...m.values()].sort();

/** Sends `writes` in order through one tracker, starting from `rows`; returns the compacted view. */
function run(rows: Array<[number, string]>, writes: Change[][]): string[] {
  const moves = new KeyMoveTables();
  const view = compact(eventsOf(batch(rows.map(([id, v]) => ins(1n, id, v))), true, moves));
  for (const w of writes) compact(eventsOf(batch(w), true, moves), view);
  return live(view);
}

/** Every way to cut `changes` into consecutive writes of at most `size` changes, at every offset. */
function cuts(changes: Change[], size: number): Change[][][] {
  const out: Change[][][] = [];
  for (let first = 1; first <= Math.min(size, changes.length); first++) {
    const w: Change[][] = [changes.slice(0, first)];
    for (let i = first; i < changes.length; i += size) w.push(changes.slice(i, i + size));
    out.push(w);
  }
  return out;
}

const START: Array<[number, string]> = [
  [1, 'a'],
  [2, 'b'],
  [5, 'e'],
];

test('A moves into K while B holds it, then B is deleted: K keeps A (no delete, no tombstone for K)', () => {
  const txn = [move(100n, 1, 2, 'a'), del(100n, 2, 'b')];
  const events = eventsOf(batch(txn), true, new KeyMoveTables());
  expect(events.map((e) => `${e.kind}:${e.rowKey}`)).toEqual(['old_key_delete:{"id":1}', 'tombstone:{"id":1}', 'change:{"id":2}']);
  for (const w of [[txn], ...cuts(txn, 1)]) expect(run(START, w)).toEqual(['2|a', '5|e']);
});

test('B deleted first, then A moves into K: K holds A', () => {
  const txn = [del(200n, 2, 'b'), move(200n, 1, 2, 'a')];
  for (const w of [[txn], ...cuts(txn, 1)]) expect(run(START, w)).toEqual(['2|a', '5|e']);
});

test('A moves into K, then on to J, then B at K is deleted: K is deleted', () => {
  const txn = [move(300n, 1, 2, 'a'), move(300n, 2, 9, 'a'), del(300n, 2, 'b')];
  for (const w of [[txn], ...cuts(txn, 1), ...cuts(txn, 2)]) expect(run(START, w)).toEqual(['5|e', '9|a']);
});

test('an inserted row at K outlives the delete of the row that held K', () => {
  const txn = [ins(400n, 2, 'new'), del(400n, 2, 'b'), move(400n, 5, 6, 'e')];
  for (const w of [[txn], ...cuts(txn, 2)]) expect(run(START, w)).toEqual(['1|a', '2|new', '6|e']);
});

test('a swap, then the delete of one swapped row at its new key, cut at every point', () => {
  // 1 <-> 2 swapped; then the row now at 1 (B) is deleted: key 1 is empty, key 2 holds A.
  const txn = [move(500n, 1, 2, 'a'), move(500n, 2, 1, 'b'), del(500n, 1, 'b'), ins(500n, 7, 'g')];
  for (const w of [[txn], ...cuts(txn, 1), ...cuts(txn, 2), ...cuts(txn, 3)]) expect(run(START, w)).toEqual(['2|a', '5|e', '7|g']);
});

test('a retried write, and a replay from the transaction start, send the same decisions', () => {
  const txn = [move(600n, 1, 2, 'a'), del(600n, 2, 'b'), ins(700n, 8, 'h')];
  const moves = new KeyMoveTables();
  const view = compact(eventsOf(batch(START.map(([id, v]) => ins(1n, id, v))), true, moves));
  compact(eventsOf(batch([txn[0]!]), true, moves), view);
  compact(eventsOf(batch([txn[1]!]), true, moves), view);
  compact(eventsOf(batch([txn[1]!]), true, moves), view); // retried
  compact(eventsOf(batch(txn), true, moves), view); // replayed from the transaction start
  expect(live(view)).toEqual(['2|a', '5|e', '8|h']);
});

/** The old rows (as `id|v`) of the changes whose delete the tracker reports unsure. */
function unsure(changes: Change[]): string[] {
  const answer = new KeyMoveTables().observe(batch(changes));
  return changes.flatMap((c) => {
    const old = answer.unsure(c);
    return old ? [text(old)] : [];
  });
}

test('unsure: a row this transaction put at a key leaving it again, unless the key lost its earlier row', () => {
  // Moved into 2 and on: 2 may still hold its earlier row.
  expect(unsure([move(800n, 1, 2, 'a'), move(800n, 2, 9, 'a')])).toEqual(['2|a']);
  // A swap of rows equal but for the key reads like a move and back: unsure.
  expect(unsure([move(810n, 1, 2, 'x'), move(810n, 2, 1, 'x')])).toEqual(['2|x']);
  // A swap of distinct rows: sure (no delete at all).
  expect(unsure([move(820n, 1, 2, 'a'), move(820n, 2, 1, 'b')])).toEqual([]);
  // Inserted at 2, then deleted: unsure; deleted 2's earlier row first: sure.
  expect(unsure([ins(830n, 2, 'n'), del(830n, 2, 'n')])).toEqual(['2|n']);
  expect(unsure([del(840n, 2, 'b'), ins(840n, 2, 'n'), del(840n, 2, 'n')])).toEqual([]);
  // An update in place of the key's earlier row makes it known, but A's image is then the key's
  // latest record: read. A truncate makes it known.
  expect(unsure([{ ...move(850n, 2, 2, 'b'), after: { id: 2, v: 'b2' } }, move(850n, 1, 2, 'a'), move(850n, 2, 9, 'a')])).toEqual(['2|a']);
  expect(unsure([{ ...at(860n), op: 'truncate', key: {}, before: null, after: null }, ins(860n, 2, 'n'), del(860n, 2, 'n')])).toEqual([]);
});

/** The source at commit as a row reader: the rows of `rows` at the keys asked for. */
function sourceAt(rows: Array<[number, string]>): SourceRowReader {
  return {
    rowsByKey: (_schema, keys) => Promise.resolve(rows.filter(([id]) => keys.some((k) => k.id === id)).map(([id, v]) => ({ id, v }))),
    close: () => Promise.resolve(),
  };
}

/** {@link run} through `eventsWithSource`, the source holding `after` (its rows at commit). */
async function runWithSource(rows: Array<[number, string]>, writes: Change[][], after: Array<[number, string]>): Promise<string[]> {
  const moves = new KeyMoveTables();
  const view = compact(eventsOf(batch(rows.map(([id, v]) => ins(1n, id, v))), true, moves));
  for (const w of writes) compact(await eventsWithSource(batch(w), true, moves, sourceAt(after), log), view);
  return live(view);
}

/** Row `id`/`from` updated in place to `to` (the key unchanged). */
const upd = (lsn: bigint, id: number, from: string, to: string): Change => ({
  ...at(lsn),
  op: 'update',
  key: { id },
  before: { id, v: from },
  after: { id, v: to },
});

test('B updated in place at K after A moved in, then B leaves: K ends with A, not B’s image', async () => {
  // A (1) moves into 2 while B holds it; B is updated in place at 2, then deleted.
  const deleted = [move(900n, 1, 2, 'a'), upd(900n, 2, 'b', 'b2'), del(900n, 2, 'b2')];
  expect(unsure(deleted)).toEqual(['2|b2']);
  for (const w of [[deleted], ...cuts(deleted, 1), ...cuts(deleted, 2)])
    expect(
      await runWithSource(START, w, [
        [2, 'a'],
        [5, 'e'],
      ]),
    ).toEqual(['2|a', '5|e']);
  // The same, B moving on to 9 instead of being deleted.
  const moved = [move(910n, 1, 2, 'a'), upd(910n, 2, 'b', 'b2'), move(910n, 2, 9, 'b2')];
  expect(unsure(moved)).toEqual(['2|b2']);
  const after: Array<[number, string]> = [
    [2, 'a'],
    [5, 'e'],
    [9, 'b2'],
  ];
  for (const w of [[moved], ...cuts(moved, 1), ...cuts(moved, 2)]) expect(await runWithSource(START, w, after)).toEqual(['2|a', '5|e', '9|b2']);
  // B updated in place before A moves in and on: K ends with B's image.
  const before = [upd(930n, 2, 'b', 'b2'), move(930n, 1, 2, 'a'), move(930n, 2, 9, 'a')];
  for (const w of [[before], ...cuts(before, 1), ...cuts(before, 2)])
    expect(
      await runWithSource(START, w, [
        [2, 'b2'],
        [5, 'e'],
        [9, 'a'],
      ]),
    ).toEqual(['2|b2', '5|e', '9|a']);
  // A leaving instead keeps B's image as K's record: no read, no delete.
  expect(unsure([move(920n, 1, 2, 'a'), upd(920n, 2, 'b', 'b2'), move(920n, 2, 9, 'a')])).toEqual([]);
  expect(run(START, [[move(920n, 1, 2, 'a'), upd(920n, 2, 'b', 'b2'), move(920n, 2, 9, 'a')]])).toEqual(['2|b2', '5|e', '9|a']);
});
