import type { Batch, Change, Column, TableSchema } from '../../src/core/change';
import { eventsOf } from '../../src/destinations/keyChanges';
import { KeyMoveTables } from '../../src/destinations/keyMoves';

/**
 * The key-move tracker of an event destination across writes: a swap cut between two writes, a
 * retried write, a replay from the transaction's start after a restart (another cut), and a move
 * into a free key cut the same way (whose delete is really needed). Each assertion reads the old-key
 * deletes eventsOf sends.
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

function move(commitLsn: bigint, seq: number, from: number, to: number): Change {
  const v = `v${from}`;
  return {
    op: 'update',
    table: { schema: 'public', name: 'sw' },
    lsn: commitLsn - 10n + BigInt(seq),
    commitLsn,
    commitEndLsn: commitLsn + 1n,
    commitTimeMicros: 0n,
    xid: Number(commitLsn),
    seq,
    key: { id: to },
    before: { id: from, v },
    after: { id: to, v },
    unchangedToast: [],
  };
}

function batch(changes: Change[]): Batch {
  return { flowId: 'f', changes, schemas: new Map([['public.sw', SCHEMA]]), firstLsn: changes[0]!.lsn, checkpointLsn: 0n };
}

/** The old keys eventsOf deletes for `changes`, fed to `moves`. */
function deletes(moves: KeyMoveTables, changes: Change[]): number[] {
  return eventsOf(batch(changes), true, moves)
    .filter((e) => e.kind === 'old_key_delete')
    .map((e) => Number(e.change.key.id));
}

// T1 (commit 100): swap 1 <-> 2 (1 -> 2, then 2 -> 1); T2 (commit 200): 3 -> 30 (a free key).
const t1a = move(100n, 0, 1, 2);
const t1b = move(100n, 1, 2, 1);
const t2 = move(200n, 0, 3, 30);

test('a swap cut between writes sends one delete (key 1 at the first half), none for key 2', () => {
  const moves = new KeyMoveTables();
  expect(deletes(moves, [t1a])).toEqual([1]);
  expect(deletes(moves, [t1b, t2])).toEqual([3]);
});

test('a retried write gets the same answer', () => {
  const moves = new KeyMoveTables();
  deletes(moves, [t1a]);
  expect(deletes(moves, [t1b, t2])).toEqual([3]);
  expect(deletes(moves, [t1b, t2])).toEqual([3]);
});

test('a replay from the transaction start, cut elsewhere, derives the same answers', () => {
  const moves = new KeyMoveTables();
  deletes(moves, [t1a]);
  deletes(moves, [t1b]);
  deletes(moves, [t2]);
  // Restart from the checkpoint before T1 in the same process, cut differently.
  expect(deletes(moves, [t1a, t1b])).toEqual([1]);
  expect(deletes(moves, [t2])).toEqual([3]);
  // A new process (a fresh tracker) replaying from the same checkpoint.
  const fresh = new KeyMoveTables();
  expect(deletes(fresh, [t1a])).toEqual([1]);
  expect(deletes(fresh, [t1b, t2])).toEqual([3]);
});

test('a tracker that missed the transaction start cannot tell (why replays start there)', () => {
  expect(deletes(new KeyMoveTables(), [t1b])).toEqual([2]);
});
