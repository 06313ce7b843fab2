import { tableKey, type TableRef } from '../../../core/change';
import { quoteIdent, quoteTable } from '../identifiers';
import type { SnapshotTable } from './tables';

/** Rows per block assumed for a table never analyzed. */
const DEFAULT_ROWS_PER_BLOCK = 100;

/**
 * One partition of a table to backfill: a DBOS child workflow reads its chunks in order. Every
 * row of the table is in exactly one partition:
 * - `whole`: the table, no partitioning;
 * - `hash`: rows whose `column` is NOT NULL and `((h % count) + count) % count = index`, with
 *   `h = hashtextextended(column::text, 0)` (a signed 64-bit hash of the value's text, so any type
 *   works: integers, uuid, text, enums, composites); the non-negative modulus keeps negative hashes;
 * - `range`: an integer `column` in [`lo`, `hi`) (the first range open below, the last open above,
 *   so rows outside the planned min..max are still read), `count` ranges splitting min..max evenly;
 * - `nulls`: rows whose `column` IS NULL (a partition of its own, only for a nullable column);
 * - `blocks`: a contiguous range of the table's chunks (no column given, `partition_count` > 1).
 * Chunks are ranges of heap blocks (`ctid`), so reading needs no index and no sort; the table's
 * last chunk is open-ended, so rows in blocks added after planning are read too.
 */
export interface PartitionTask {
  table: TableRef;
  columns: string[];
  kind: 'whole' | 'hash' | 'range' | 'nulls' | 'blocks';
  /** Partition number within the table (hash: 0..count-1; nulls: count). */
  index: number;
  /** Hash partitions of the table (hash and nulls). */
  count: number;
  column?: string;
  /** Range partitions: bounds as decimal text (int8 fits no JS number); absent = open. */
  lo?: string;
  hi?: string;
  blocksPerChunk: number;
  /** Chunks of the table; chunk `totalChunks - 1` is open-ended. */
  totalChunks: number;
  /** This partition's chunks: [firstChunk, endChunk). */
  firstChunk: number;
  endChunk: number;
  /** Rows expected in this partition (reltuples share); null when the table was never analyzed. */
  estimatedRows: number | null;
  /** Disjoint seq numbering: rows of this partition get seq -(1 + slot + k * slots), k = 0, 1, ... */
  slot: number;
  slots: number;
}

export interface PartitionOptions {
  partitionColumn?: string;
  partitionCount: number;
  /** Rows one chunk aims at: one chunk is one DBOS step, held in memory while it is written. */
  chunkRows: number;
  /** Tables (`schema.table`) whose chunks aim at more rows than `chunkRows` (chunks read into files, not memory). */
  chunkRowsOf?: ReadonlyMap<string, number>;
}

/** The partitions of every table, numbered for disjoint seqs across the whole backfill. */
export function planPartitions(tables: SnapshotTable[], o: PartitionOptions): PartitionTask[] {
  const out: Omit<PartitionTask, 'slot' | 'slots'>[] = [];
  for (const t of tables) {
    const rowsPerBlock = t.estimatedRows !== null && t.blocks > 0 ? Math.max(1, t.estimatedRows / t.blocks) : DEFAULT_ROWS_PER_BLOCK;
    const hashed = o.partitionColumn !== undefined;
    // A hash partition keeps ~1/count of each chunk's rows: read proportionally more blocks per chunk.
    const spread = hashed ? o.partitionCount : 1;
    const chunkRows = o.chunkRowsOf?.get(tableKey(t.table)) ?? o.chunkRows;
    const blocksPerChunk = Math.max(1, Math.floor((chunkRows * spread) / rowsPerBlock));
    const totalChunks = Math.max(1, Math.ceil(t.blocks / blocksPerChunk));
    const base = { table: t.table, columns: t.columns, blocksPerChunk, totalChunks };
    if (hashed) {
      const column = o.partitionColumn!;
      const share = t.estimatedRows === null ? null : Math.round(t.estimatedRows / o.partitionCount);
      const bounds = t.range ? rangeBounds(BigInt(t.range.min), BigInt(t.range.max), o.partitionCount) : null;
      for (let p = 0; p < o.partitionCount; p++) {
        const whole = { ...base, index: p, count: o.partitionCount, column, firstChunk: 0, endChunk: totalChunks, estimatedRows: share };
        if (!bounds) out.push({ ...whole, kind: 'hash' });
        else {
          const range: Partial<PartitionTask> = {};
          if (p > 0) range.lo = bounds[p - 1]!.toString();
          if (p < o.partitionCount - 1) range.hi = bounds[p]!.toString();
          out.push({ ...whole, kind: 'range', ...range });
        }
      }
      if (!t.notNullColumns.includes(column)) {
        out.push({ ...base, kind: 'nulls', index: o.partitionCount, count: o.partitionCount, column, firstChunk: 0, endChunk: totalChunks, estimatedRows: 0 });
      }
    } else if (o.partitionCount > 1 && totalChunks > 1) {
      const n = Math.min(o.partitionCount, totalChunks);
      for (let p = 0; p < n; p++) {
        const first = Math.floor((p * totalChunks) / n);
        const end = Math.floor(((p + 1) * totalChunks) / n);
        const share = t.estimatedRows === null ? null : Math.round((t.estimatedRows * (end - first)) / totalChunks);
        out.push({ ...base, kind: 'blocks', index: p, count: n, firstChunk: first, endChunk: end, estimatedRows: share });
      }
    } else {
      out.push({ ...base, kind: 'whole', index: 0, count: 1, firstChunk: 0, endChunk: totalChunks, estimatedRows: t.estimatedRows });
    }
  }
  return out.map((p, slot) => ({ ...p, slot, slots: out.length }));
}

/** The `count - 1` inner bounds splitting [min, max] into `count` ranges of (nearly) equal width. */
export function rangeBounds(min: bigint, max: bigint, count: number): bigint[] {
  const width = max - min + 1n;
  const out: bigint[] = [];
  for (let p = 1; p < count; p++) out.push(min + (width * BigInt(p)) / BigInt(count));
  return out;
}

/** How a table's partitions split it, as status shows it: `range(id)`, `hash(id)`, `blocks` or `whole`. */
export function partitioningOf(parts: readonly Pick<PartitionTask, 'kind' | 'column'>[]): string {
  const kind = parts.find((p) => p.kind !== 'nulls')?.kind ?? parts[0]?.kind ?? 'whole';
  return kind === 'range' || kind === 'hash' ? `${kind}(${parts[0]!.column})` : kind;
}

/**
 * The SELECT of chunk `chunk` of a partition: its block range and the partition's predicate; the
 * last column is the row's ctid (left out with `withCtid` false).
 */
export function chunkQuery(p: PartitionTask, chunk: number, withCtid = true): string {
  const from = chunk * p.blocksPerChunk;
  const where = [`ctid >= '(${from},0)'::tid`];
  if (chunk < p.totalChunks - 1) where.push(`ctid < '(${from + p.blocksPerChunk},0)'::tid`);
  if (p.column !== undefined) {
    const col = quoteIdent(p.column);
    if (p.kind === 'nulls') where.push(`${col} IS NULL`);
    else if (p.kind === 'range') {
      where.push(`${col} IS NOT NULL`);
      if (p.lo !== undefined) where.push(`${col} >= ${BigInt(p.lo).toString()}`);
      if (p.hi !== undefined) where.push(`${col} < ${BigInt(p.hi).toString()}`);
    } else where.push(`${col} IS NOT NULL AND ((pg_catalog.hashtextextended(${col}::text, 0) % ${p.count}) + ${p.count}) % ${p.count} = ${p.index}`);
  }
  return `SELECT ${p.columns.map(quoteIdent).join(', ')}${withCtid ? ', ctid' : ''} FROM ${quoteTable(p.table)} WHERE ${where.join(' AND ')}`;
}

/** Line pointers per heap page counted for seqs: above MaxHeapTuplesPerPage of every block size (291 at 8 kB, 1165 at 32 kB). */
const TUPLES_PER_BLOCK = 2048;

/**
 * Seq of the row at `ctid` (`(block,offset)` as PostgreSQL prints it) in a partition: negative,
 * disjoint across partitions (see {@link PartitionTask.slot}), and derived from where the row is
 * stored, not from a count of rows read: a chunk read again after a crash (under a fresh snapshot,
 * so possibly other rows) gives each row it still finds the seq it had, and a different row never
 * takes the seq of one written before, which event destinations deduplicating on (commit LSN, seq)
 * would drop.
 */
export function snapshotSeq(p: Pick<PartitionTask, 'slot' | 'slots'>, ctid: string): number {
  const m = /^\((\d+),(\d+)\)$/.exec(ctid);
  if (!m) throw new Error(`not a ctid: ${ctid}`);
  return snapshotSeqAt(p, Number(m[1]), Number(m[2]));
}

/** {@link snapshotSeq} of the row at (`block`, `offset`). */
export function snapshotSeqAt(p: Pick<PartitionTask, 'slot' | 'slots'>, block: number, offset: number): number {
  return -(1 + p.slot + (block * TUPLES_PER_BLOCK + offset) * p.slots);
}

/** A short label: `public.users` or `public.users#3/8`. */
export function partitionLabel(p: Pick<PartitionTask, 'table' | 'kind' | 'index' | 'count'>): string {
  const t = `${p.table.schema}.${p.table.name}`;
  if (p.kind === 'whole') return t;
  if (p.kind === 'nulls') return `${t}#null`;
  if (p.kind === 'range') return `${t}#range${p.index}/${p.count}`;
  return `${t}#${p.index}/${p.count}`;
}
