import { tableKey } from '../../core/change';
import { DuctError } from '../../core/errors';
import type { SchemaChange } from '../../core/schemaChange';
import { qualified, type QualifiedName, type SqlSyntax } from './dialect';
import type { TableLayout } from './layout';

/**
 * The ALTER statements that make an existing destination table follow a source schema change.
 * Written in the ANSI/PostgreSQL form that DuckDB accepts; a warehouse whose syntax differs passes
 * its own {@link AlterSyntax}. Each statement is guarded by `existing` (the table's current columns),
 * so applying a change twice, or after a crash half-way, ends in the same table.
 *
 * Policy: added columns are added (nullable); renamed columns are renamed; retyped columns get the
 * new type (widening; a narrowing was approved by a person); dropped columns are kept and receive
 * NULL in new rows (made nullable first where the destination needs it: `keepDroppedColumn`),
 * unless `dropColumns` (`ddl_drop_columns=true`). A primary key change yields no statement here:
 * each apply strategy re-keys the table itself after these statements (DuckDB and ClickHouse
 * rebuild it, Snowflake moves its key metadata), as do retypes `retypeInPlace` refuses.
 */
export interface AlterSyntax {
  addColumn(table: string, column: string, type: string): string;
  renameColumn(table: string, from: string, to: string): string;
  retypeColumn(table: string, column: string, type: string): string;
  dropColumn(table: string, column: string): string;
  /**
   * Optional: the statement that lets a column dropped at the source, and kept here, receive NULL
   * in new rows (ClickHouse: `MODIFY COLUMN c Nullable(T)`); undefined when it already can.
   */
  keepDroppedColumn?(table: string, column: string): string | undefined;
}

export function ansiAlterSyntax(d: Pick<SqlSyntax, 'quoteIdent'>): AlterSyntax {
  const q = (n: string) => d.quoteIdent(n);
  return {
    addColumn: (t, c, type) => `ALTER TABLE ${t} ADD COLUMN ${q(c)} ${type}`,
    renameColumn: (t, from, to) => `ALTER TABLE ${t} RENAME COLUMN ${q(from)} TO ${q(to)}`,
    retypeColumn: (t, c, type) => `ALTER TABLE ${t} ALTER COLUMN ${q(c)} TYPE ${type}`,
    dropColumn: (t, c) => `ALTER TABLE ${t} DROP COLUMN ${q(c)}`,
  };
}

export interface EvolutionInput {
  change: SchemaChange;
  table: QualifiedName;
  /** The layout of the source table's new shape in this destination (null for a dropped table). */
  layout: TableLayout | null;
  /** The destination table's columns now. */
  existing: ReadonlySet<string>;
  dropColumns: boolean;
  /**
   * False for a retyped column the destination cannot alter in place (e.g. a key column): no
   * statement is produced for it, the strategy rebuilds it. Absent: every retype is in place.
   */
  retypeInPlace?: (column: string) => boolean;
}

export function evolutionStatements(d: Pick<SqlSyntax, 'quoteIdent'>, syntax: AlterSyntax, input: EvolutionInput): string[] {
  const { change, layout, dropColumns } = input;
  const existing = new Set(input.existing);
  const t = qualified(d, input.table);
  const out: string[] = [];
  const ddlTypeOf = (name: string): string => {
    const c = layout?.columns.find((x) => x.name === name);
    if (!c) throw new DuctError('internal', `column "${name}" of ${tableKey(change.table)} is not in its new layout`, { retry: 'never' });
    return c.ddlType;
  };
  // Drops first, so a column dropped and re-added under its name ends up present.
  const ordered = [...change.changes].sort((a, b) => Number(b.kind === 'drop_column') - Number(a.kind === 'drop_column'));
  for (const c of ordered) {
    switch (c.kind) {
      case 'add_column':
        if (!existing.has(c.column.name)) out.push(syntax.addColumn(t, c.column.name, ddlTypeOf(c.column.name)));
        existing.add(c.column.name);
        break;
      case 'rename_column':
        if (existing.has(c.from) && !existing.has(c.column.name)) {
          out.push(syntax.renameColumn(t, c.from, c.column.name));
          existing.delete(c.from);
          existing.add(c.column.name);
        } else if (!existing.has(c.column.name)) {
          out.push(syntax.addColumn(t, c.column.name, ddlTypeOf(c.column.name)));
          existing.add(c.column.name);
        }
        break;
      case 'retype_column':
        if (existing.has(c.column.name) && (input.retypeInPlace?.(c.column.name) ?? true))
          out.push(syntax.retypeColumn(t, c.column.name, ddlTypeOf(c.column.name)));
        break;
      case 'drop_column':
        if (dropColumns && existing.has(c.column.name)) {
          out.push(syntax.dropColumn(t, c.column.name));
          existing.delete(c.column.name);
        } else if (existing.has(c.column.name)) {
          const keep = syntax.keepDroppedColumn?.(t, c.column.name);
          if (keep !== undefined) out.push(keep);
        }
        break;
      case 'key_change':
        break; // the strategy re-keys the table (see above)
      case 'new_table':
      case 'drop_table':
        break; // a new table is created on first write; a dropped one is kept
    }
  }
  return out;
}
