import type { Change } from '../../core/change';
import type { TableLayout } from '../sql/layout';
import type { TablePlan } from '../sql/plan';
import { fillColumns, type FillScope } from './fill';
import { metaLiteral, ROW_DELETED_COLUMN, TsvRows, VERSION_COLUMN, versionOf } from './rows';
import { ClickhouseTables, keylessChangeError } from './tables';
import { qualifiedName, quoteIdent, quoteString } from './types';

const q = quoteIdent;

/**
 * The default ClickHouse apply (`apply_mode=versioned`), capability `versioned_append`: nothing is
 * changed in place. Every planned row is appended with its change's stream position as version
 * (`ReplacingMergeTree(__ds_version, __ds_row_deleted)`): an upsert as the new row, a delete as a
 * row with `__ds_row_deleted = 1`, a key change as both, a truncate as a deleted row for every live
 * key; readers query with `FINAL`. Unchanged TOAST values are read from the latest version before
 * the batch. Append mode appends one row per change, ordered (and deduplicated) by position.
 *
 * `apply` resolves when every table's rows and then the watermarks are inserted. A retry after a
 * failure inserts the same rows with the same versions: no effect for readers with `FINAL`.
 */
export class VersionedApply extends ClickhouseTables {
  readonly capability = 'versioned_append' as const;

  protected async applyTable(layout: TableLayout, plan: TablePlan): Promise<void> {
    const versioned = this.versioned(layout);
    const rows = new TsvRows(layout, versioned);
    const first = firstChange(plan);
    if (layout.mode === 'append') {
      const { fill, gone } = await this.fillFor(layout, plan.rows, { kind: 'append', before: first });
      for (const r of plan.rows) if (r.change.op !== 'truncate' && !gone.has(r)) rows.add(r, fill(r), false);
    } else if (!versioned) {
      if (plan.truncate) await this.conn.command(`TRUNCATE TABLE ${qualifiedName(layout.target)}`);
      for (const r of plan.rows) {
        if (r.action !== 'insert') throw keylessChangeError(layout, r.change);
        rows.add(r, undefined, false);
      }
    } else {
      if (plan.truncate) await this.conn.command(truncateRows(layout, plan.truncate));
      const scope: FillScope = { kind: 'versioned', before: versionOf(first) };
      const { fill, gone } = await this.fillFor(layout, plan.rows, scope);
      for (const r of plan.rows) {
        if (gone.has(r)) continue;
        if (r.action === 'delete') rows.add(r, undefined, true);
        else if (r.action === 'soft_delete') {
          const filled = fill(r);
          // A soft delete of a row the destination does not hold leaves nothing, as an UPDATE would.
          if (filled) rows.add({ ...r, fill: fillColumns(layout, r) }, filled, false);
        } else rows.add(r, fill(r), false);
      }
    }
    await this.insertRows(qualifiedName(layout.target), rows);
  }
}

/** The first change a plan holds (its truncate or earliest row): fills read the destination before it. */
function firstChange(plan: TablePlan): Change {
  let first: Change | null = plan.truncate;
  for (const r of plan.rows) if (!first || versionOf(r.change) < versionOf(first)) first = r.change;
  return first ?? plan.last!;
}

/**
 * A truncate as versioned rows: every key live before it gets a deleted row at the truncate's
 * position (with `soft_delete`, a copy flagged deleted instead), so the truncate is idempotent and
 * ordered like any other change.
 */
function truncateRows(layout: TableLayout, c: Change): string {
  const t = qualifiedName(layout.target);
  const version = `toUInt128('${versionOf(c).toString()}')`;
  const before = `${q(VERSION_COLUMN)} < ${version}`;
  if (!layout.softDelete) {
    const keys = layout.key.map(q).join(', ');
    return `INSERT INTO ${t} (${keys}, ${q(VERSION_COLUMN)}, ${q(ROW_DELETED_COLUMN)}) SELECT ${keys}, ${version}, 1 FROM ${t} FINAL WHERE ${before}`;
  }
  const cols = [...layout.columns.map((col) => col.name), ...layout.meta.map((m) => m.name), VERSION_COLUMN, ROW_DELETED_COLUMN];
  const exprs = [...layout.columns.map((col) => q(col.name)), ...layout.meta.map((m) => metaLiteral(m, c, true, quoteString)), version, '0'];
  return `INSERT INTO ${t} (${cols.map(q).join(', ')}) SELECT ${exprs.join(', ')} FROM ${t} FINAL WHERE ${before}`;
}
