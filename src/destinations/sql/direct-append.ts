import type { Value } from '../../core/change';
import type { TableWork } from './apply-strategy';
import type { SqlDialect } from './dialect';
import type { MetaColumn, TableLayout } from './layout';
import type { PlannedRow } from './plan';
import type { LoadColumn, SqlSession } from './session';

/**
 * Snapshot rows straight into their target (the backfill's bulk path): a batch whose every table
 * plans only new rows read by a backfill (`read` changes, upserts without unchanged-TOAST fills, no
 * truncate) into a table with an enforced primary key and exactly the layout's columns, with no type
 * mapping that needs a SQL cast, is appended to the target inside the batch's transaction, without
 * a load table and INSERT … SELECT (measured on DuckDB: ~45% less CPU in the destination).
 *
 * Same result as the upsert it replaces: the target holds none of the keys (else the append
 * violates the key and the caller rolls back and applies the batch the usual way, by upsert), so
 * every row is new and gets the metadata values the INSERT would give it (`synced_at`: the time of
 * the append instead of the statement's). Watermarks move in the same transaction.
 */
export function directAppendable(d: SqlDialect, session: SqlSession, work: TableWork[], columnsOf: (w: TableWork) => string[] | undefined): boolean {
  if (session.appendInTransaction === undefined || d.insertFailsOnDuplicateKey !== true) return false;
  return work.every((w) => {
    const { layout, plan } = w;
    if (layout.mode !== 'target' || layout.key.length === 0 || layout.constraintKey.length !== layout.key.length) return false;
    if (plan.truncate !== null || !plan.onlyInserts || plan.rows.length === 0) return false;
    if (layout.columns.some((c) => c.cast)) return false;
    if (!plan.rows.every((r) => r.action === 'upsert' && r.change.op === 'read' && r.fill.length === 0)) return false;
    const names = [...layout.columns.map((c) => c.name), ...layout.meta.map((m) => m.name)];
    const existing = columnsOf(w);
    return existing !== undefined && existing.length === names.length && existing.every((n, i) => n === names[i]);
  });
}

/**
 * Appends every table's rows to its target and moves the watermarks, between BEGIN and COMMIT.
 * Throws (after rolling back) when an append fails, a key the target holds included.
 */
export async function applyByDirectAppend(d: SqlDialect, session: SqlSession, work: TableWork[], watermarkStatement: ApplyWatermark): Promise<void> {
  const append = session.appendInTransaction!.bind(session);
  await session.execute(d.beginTransaction);
  try {
    const tail: string[] = [];
    for (const w of work) {
      await append(w.layout.target, targetColumns(w.layout, w.plan.rows), w.plan.rows.length);
      if (w.watermark) tail.push(watermarkStatement(w));
    }
    tail.push(d.commit);
    await session.executeScript(tail);
  } catch (e) {
    await session.execute(d.rollback).catch(() => undefined);
    throw e;
  }
}

/** The statement that moves a table's watermark (see `TransactionalApply`). */
export type ApplyWatermark = (w: TableWork) => string;

/** The target's columns, in table order: data columns as planned, metadata as the INSERT would set them. */
function targetColumns(layout: TableLayout, rows: PlannedRow[]): LoadColumn[] {
  const data = layout.columns.map((c): LoadColumn => ({ name: c.name, type: c.load, values: rows.map((r) => r.values[c.name] ?? null) }));
  const now = BigInt(Date.now()) * 1000n;
  const meta = layout.meta.map((m): LoadColumn => ({ name: m.name, type: m.type, values: rows.map((r) => metaValue(m, r, now)) }));
  return [...data, ...meta];
}

function metaValue(m: MetaColumn, r: PlannedRow, now: bigint): Value {
  switch (m.role) {
    case 'op':
      return r.change.op;
    case 'synced_at':
      return now;
    case 'deleted':
      return r.deleted;
    case 'watermark':
      return m.type.kind === 'lsn' ? r.change.commitLsn : r.change.commitTimeMicros;
    case 'lsn':
      return r.change.commitLsn;
    case 'seq':
      return BigInt(r.change.seq);
    case 'commit_time':
      return r.change.commitTimeMicros;
  }
}
