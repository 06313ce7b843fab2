import { isApplied } from '../../src/destinations/sql/meta-table';
import { chunkQuery, partitioningOf, planPartitions, rangeBounds, snapshotSeq } from '../../src/source/postgres/snapshot/partitions';
import type { SnapshotTable } from '../../src/source/postgres/snapshot/tables';

const users: SnapshotTable = {
  table: { schema: 'public', name: 'users' },
  estimatedRows: 100_000,
  blocks: 1000,
  columns: ['id', 'name'],
  notNullColumns: ['id'],
};
const tags: SnapshotTable = { ...users, table: { schema: 'public', name: 'tags' }, columns: ['a', 'mood'], notNullColumns: ['a'] };

describe('backfill partitions', () => {
  it('hash partitions use a non-negative modulus and put NULLs of a nullable column in a partition of their own', () => {
    const parts = planPartitions([tags], { partitionColumn: 'mood', partitionCount: 4, chunkRows: 10_000 });
    expect(parts.map((p) => `${p.kind}:${p.index}`)).toEqual(['hash:0', 'hash:1', 'hash:2', 'hash:3', 'nulls:4']);
    expect(chunkQuery(parts[2]!, 0)).toContain(`"mood" IS NOT NULL AND ((pg_catalog.hashtextextended("mood"::text, 0) % 4) + 4) % 4 = 2`);
    expect(chunkQuery(parts[4]!, 0)).toContain('"mood" IS NULL');
    // A NOT NULL column has no NULL partition.
    expect(planPartitions([users], { partitionColumn: 'id', partitionCount: 3, chunkRows: 10_000 }).map((p) => p.kind)).toEqual(['hash', 'hash', 'hash']);
  });

  it('chunks are block ranges covering the whole table, the last one open-ended', () => {
    const [whole] = planPartitions([users], { partitionCount: 1, chunkRows: 10_000 });
    expect(whole!.totalChunks).toBe(10);
    expect(chunkQuery(whole!, 0)).toBe(`SELECT "id", "name", ctid FROM "public"."users" WHERE ctid >= '(0,0)'::tid AND ctid < '(100,0)'::tid`);
    expect(chunkQuery(whole!, 9)).toBe(`SELECT "id", "name", ctid FROM "public"."users" WHERE ctid >= '(900,0)'::tid`);
    const blocks = planPartitions([users], { partitionCount: 4, chunkRows: 10_000 });
    expect(blocks.map((p) => [p.firstChunk, p.endChunk])).toEqual([
      [0, 2],
      [2, 5],
      [5, 7],
      [7, 10],
    ]);
  });

  it('tables read into CSV files get their own chunk size; their chunk query can leave the ctid out', () => {
    const parts = planPartitions([users, tags], { partitionCount: 1, chunkRows: 10_000, chunkRowsOf: new Map([['public.tags', 50_000]]) });
    expect(parts.map((p) => [p.table.name, p.totalChunks])).toEqual([
      ['users', 10],
      ['tags', 2],
    ]);
    expect(chunkQuery(parts[1]!, 1, false)).toBe(`SELECT "a", "mood" FROM "public"."tags" WHERE ctid >= '(500,0)'::tid`);
  });

  it('snapshot seqs are negative, disjoint across partitions and rows, and follow the row ctid (not a count of rows read)', () => {
    const parts = planPartitions([users, tags], { partitionColumn: undefined, partitionCount: 3, chunkRows: 10_000 });
    const seen = new Set<number>();
    const ctids = ['(0,1)', '(0,2)', '(0,291)', '(1,1)', '(7,13)', '(4294967295,1165)'];
    for (const p of parts) for (const c of ctids) seen.add(snapshotSeq(p, c));
    expect(seen.size).toBe(parts.length * ctids.length);
    expect(Math.max(...seen)).toBeLessThan(0);
    expect([...seen].every((s) => Number.isSafeInteger(s))).toBe(true);
    // A chunk read again (e.g. under a fresh snapshot after a crash) gives a row at the same place the same seq.
    expect(snapshotSeq(parts[0]!, '(7,13)')).toBe(snapshotSeq({ slot: parts[0]!.slot, slots: parts[0]!.slots }, '(7,13)'));
    expect(() => snapshotSeq(parts[0]!, '7')).toThrow(/not a ctid/);
  });

  it('snapshot rows are applied until a streamed change at or after the snapshot LSN is', () => {
    const read = (seq: number) => ({ op: 'read', commitLsn: 100n, seq });
    // Another chunk of the same snapshot moved the watermark: still applied.
    expect(isApplied({ commitLsn: 100n, seq: -7 }, read(-3))).toBe(false);
    expect(isApplied({ commitLsn: 100n, seq: -3 }, read(-7))).toBe(false);
    expect(isApplied({ commitLsn: 90n, seq: 4 }, read(-1))).toBe(false);
    // The stream applied a change at or after the snapshot: it owns the rows now.
    expect(isApplied({ commitLsn: 100n, seq: 0 }, read(-1))).toBe(true);
    expect(isApplied({ commitLsn: 120n, seq: 2 }, read(-1))).toBe(true);
    // Streamed changes before the snapshot are in it: skipped once snapshot rows are written.
    expect(isApplied({ commitLsn: 100n, seq: -1 }, { commitLsn: 99n, seq: 5 })).toBe(true);
    expect(isApplied({ commitLsn: 100n, seq: -1 }, { commitLsn: 100n, seq: 0 })).toBe(false);
    // Rows at H - 1 = 99 of a snapshot at S = 150: a streamed change between H and S (written by a
    // stream that had not seen the hold yet) does not make them applied; one after S does.
    const held = { op: 'read', commitLsn: 99n, commitEndLsn: 150n, seq: -1 };
    expect(isApplied({ commitLsn: 120n, seq: 3 }, held)).toBe(false);
    expect(isApplied({ commitLsn: 151n, seq: 0 }, held)).toBe(true);
  });

  it('an integer partition column with a planned min..max splits by range, open at both ends, and says so', () => {
    const ranged = { ...users, range: { min: '-5', max: '94' } };
    const parts = planPartitions([ranged], { partitionColumn: 'id', partitionCount: 4, chunkRows: 10_000 });
    expect(parts.map((p) => [p.kind, p.lo, p.hi])).toEqual([
      ['range', undefined, '20'],
      ['range', '20', '45'],
      ['range', '45', '70'],
      ['range', '70', undefined],
    ]);
    expect(chunkQuery(parts[1]!, 0)).toContain('"id" IS NOT NULL AND "id" >= 20 AND "id" < 45');
    expect(chunkQuery(parts[0]!, 0)).not.toContain('>=  ');
    expect(partitioningOf(parts)).toBe('range(id)');
    expect(partitioningOf(planPartitions([users], { partitionColumn: 'id', partitionCount: 2, chunkRows: 10_000 }))).toBe('hash(id)');
    expect(partitioningOf(planPartitions([users], { partitionCount: 1, chunkRows: 10_000 }))).toBe('whole');
    expect(rangeBounds(0n, 2n ** 62n, 2)).toEqual([2n ** 61n]);
  });
});
