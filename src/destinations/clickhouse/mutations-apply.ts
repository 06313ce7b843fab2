import type { Change } from '../../core/change';
import { DuctError, isDuctError } from '../../core/errors';
import type { TableLayout } from '../sql/layout';
import type { TablePlan } from '../sql/plan';
import { fillColumns } from './fill';
import { metaLiteral, TsvRows } from './rows';
import { ClickhouseTables, keylessChangeError, LONG_QUERY } from './tables';
import { qualifiedName, quoteIdent, quoteString } from './types';

const q = quoteIdent;
const s = quoteString;

/**
 * `apply_mode=mutations` (as the usage guide promises: "apply changes using ClickHouse mutations"),
 * capability `in_place`: plain `MergeTree` tables, one row per key, read without `FINAL`. Per table
 * and batch: unchanged TOAST values are read first; then one `ALTER TABLE … DELETE` removes every key
 * the batch deletes or rewrites and the new rows are inserted; a truncate is `TRUNCATE` (with
 * `soft_delete`, `ALTER TABLE … UPDATE` of the deleted flag). Mutations run with `mutations_sync=2`;
 * one that fails is read back from `system.mutations`, killed, and reported.
 *
 * Not atomic: a failure may leave part of a batch applied; the retry deletes and inserts the same
 * keys again, so the end state is the same (except unchanged TOAST values of a row whose delete
 * succeeded and whose insert did not: the retry no longer finds them).
 */
export class MutationsApply extends ClickhouseTables {
  readonly capability = 'in_place' as const;

  protected async applyTable(layout: TableLayout, plan: TablePlan): Promise<void> {
    const t = qualifiedName(layout.target);
    const rows = new TsvRows(layout, false);
    if (plan.truncate) await this.truncate(layout, plan.truncate);
    if (layout.mode === 'append' || layout.key.length === 0) {
      for (const r of plan.rows) {
        if (layout.mode === 'append' ? r.change.op === 'truncate' : false) continue;
        if (layout.mode !== 'append' && r.action !== 'insert') throw keylessChangeError(layout, r.change);
        rows.add(r, undefined, false);
      }
    } else {
      const { fill, gone } = await this.fillFor(layout, plan.rows, { kind: 'current' });
      const filled = plan.rows.map((r) => fill(r));
      if (plan.rows.length > 0) {
        const keyIn = this.keyIn(
          layout,
          plan.rows.map((r) => r.values),
        );
        // A batch of inserts replaces nothing unless a replay wrote its rows before: a cheap read
        // saves the mutation then.
        const replaces = !plan.onlyInserts || (await this.conn.rows(`SELECT 1 AS x FROM ${t} WHERE ${keyIn} LIMIT 1`)).length > 0;
        if (replaces) await this.mutate(layout, `ALTER TABLE ${t} DELETE WHERE ${keyIn}`);
      }
      plan.rows.forEach((r, i) => {
        if (r.action === 'delete' || gone.has(r)) return;
        if (r.action === 'soft_delete') {
          if (filled[i]) rows.add({ ...r, fill: fillColumns(layout, r) }, filled[i], false);
          return;
        }
        rows.add(r, filled[i], false);
      });
    }
    await this.insertRows(t, rows);
  }

  private async truncate(layout: TableLayout, c: Change): Promise<void> {
    const t = qualifiedName(layout.target);
    if (!layout.softDelete) return this.conn.command(`TRUNCATE TABLE ${t}`);
    const set = layout.meta.map((m) => `${q(m.name)} = ${metaLiteral(m, c, true, s)}`);
    await this.mutate(layout, `ALTER TABLE ${t} UPDATE ${set.join(', ')} WHERE 1`);
  }

  /** Runs a mutation synchronously; a failure is explained from `system.mutations` and the mutation killed. */
  private async mutate(layout: TableLayout, sql: string): Promise<void> {
    try {
      await this.conn.command(sql, { ...LONG_QUERY, mutations_sync: '2' });
    } catch (e) {
      const where = `database = ${s(layout.target.schema)} AND table = ${s(layout.target.name)} AND is_done = 0 AND latest_fail_reason != ''`;
      const failed = await this.conn.rows(`SELECT mutation_id, latest_fail_reason FROM system.mutations WHERE ${where}`).catch(() => []);
      if (failed.length === 0) throw e;
      await this.conn.command(`KILL MUTATION WHERE ${where}`).catch(() => undefined);
      const reason = failed.map((f) => `${String(f.mutation_id)}: ${String(f.latest_fail_reason)}`).join('; ');
      throw new DuctError('destination_failed', `ClickHouse mutation failed (${reason})`, {
        retry: isDuctError(e) ? e.retry : 'transient',
        cause: e,
      });
    }
  }
}
