import type { CsvColumn } from './snapshot-file';
import type { LogicalType } from './types';

/** A schema-qualified table name in the destination (ClickHouse: database.table). */
export interface QualifiedName {
  schema: string;
  name: string;
}

/** A column in a CREATE TABLE. */
export interface ColumnDef {
  name: string;
  /** The destination type, already a dialect type name. */
  type: string;
}

/*
 * What differs between warehouses, in three parts (issue #12):
 *
 * - {@link SqlTypes}: how a logical column type is named (and how wide a DECIMAL may be);
 * - {@link SqlSyntax} + {@link SqlDdl}: quoting, literals and the DDL that creates, lists and drops tables;
 * - an apply strategy (`apply-strategy.ts`): how a planned batch reaches the tables, and what that
 *   guarantees (`ApplyCapability`). The transactional strategy (`transactional-apply.ts`, DuckDB and
 *   Snowflake) needs {@link SqlDml}: the statements it runs between BEGIN and COMMIT. Other
 *   strategies (ClickHouse's versioned append and mutations) bring their own statements.
 *
 * Planning (net effect per key, key moves, unchanged TOAST, deletes, soft deletes, append mode:
 * `plan.ts`) and table layout (metadata columns, type mappings: `layout.ts`) are shared by every
 * strategy. Functions here return SQL text; none of them runs anything.
 */

/** How logical types are named in the destination. */
export interface SqlTypes {
  readonly name: string;
  /** Largest DECIMAL precision stored exactly; wider numerics are kept as exact text. */
  readonly maxDecimalPrecision: number;
  /** The destination type name of a logical type, e.g. `DECIMAL(30,10)`, `TIMESTAMPTZ`, `INTEGER[]`. */
  typeName(type: LogicalType): string;
}

/** Identifiers, literals and the few expressions every statement builder needs. */
export interface SqlSyntax {
  quoteIdent(name: string): string;
  /** A string literal. */
  quoteString(value: string): string;
  /** The current time as a timestamptz expression (metadata `synced_at`). */
  readonly currentTimestamp: string;
  /** `a` equals `b`, NULLs equal to each other. */
  nullSafeEquals(a: string, b: string): string;
  cast(expr: string, type: string): string;
}

/** Table DDL and catalog queries. Every CREATE is idempotent (`IF NOT EXISTS`). */
export interface SqlDdl {
  /** Where the watermark table lives (`meta_table_enabled`). */
  readonly metaTable: QualifiedName;
  createSchema(schema: string): string;
  /** CREATE TABLE IF NOT EXISTS, with a primary key constraint when `primaryKey` is not empty. */
  createTable(table: QualifiedName, columns: ColumnDef[], primaryKey: string[]): string;
  /**
   * A session-private table to load batches into (replaced if it exists); it is emptied after
   * each batch and reused. Returns the table's name as statements should refer to it.
   */
  createLoadTable(name: string, columns: ColumnDef[]): { table: QualifiedName; sql: string };
  dropTable(table: QualifiedName): string;
  /**
   * A query returning one row per column of `table`, in order, with the column name as
   * `column_name` (and, where a rebuild needs it, its type in DDL spelling as `data_type`).
   */
  listColumns(table: QualifiedName): string;
  /** A query returning one row per primary key column of `table`, in key order, as `column_name`. */
  listPrimaryKey(table: QualifiedName): string;
}

/** The row statements of the transactional apply strategy: set-based, from a load table, inside one transaction. */
export interface SqlDml {
  /**
   * True when a plain INSERT of a row whose primary key exists fails (the constraint is enforced),
   * so batches of new rows may be applied with INSERT, falling back to {@link upsert} on failure.
   * Leave unset where keys are not enforced (Snowflake): every row then goes through upsert.
   */
  readonly insertFailsOnDuplicateKey?: boolean;
  /** Statements that open, commit and roll back a transaction. */
  readonly beginTransaction: string;
  readonly commit: string;
  readonly rollback: string;
  /** Removes every row of `table`, inside a transaction. */
  deleteAll(table: QualifiedName): string;
  /**
   * Insert the rows of `select` (whose output columns are `columns`, in order) into `table`,
   * replacing the non-key columns of rows whose `key` already exists. `key` is not empty.
   */
  upsert(table: QualifiedName, columns: string[], key: string[], select: string): string;
  /** Delete from `table` the rows matched by a row of `source` (aliased `s`, table aliased `t`) where `on` holds. */
  deleteUsing(table: QualifiedName, source: QualifiedName, on: string): string;
  /**
   * `UPDATE table AS alias SET ... FROM from WHERE where`; `set` holds `column = expression` items,
   * `from` is a table or subquery with its alias.
   */
  updateFrom(table: QualifiedName, alias: string, set: string[], from: string, where: string): string;
  /**
   * Delete one row (any one) of `table` (aliased `t`) for which `where` holds against a row of
   * `source` (aliased `s`): for tables without a primary key, where identical rows may exist and
   * a delete removes only one of them.
   */
  deleteOne(table: QualifiedName, source: QualifiedName, where: string): string;
  /**
   * Optional: a `SELECT` of the columns of a backfill chunk's CSV file (`SnapshotFile`: every
   * non-NULL value quoted, NULL unquoted and empty, no header) by name, each as its `load` type,
   * failing (never guessing) on a value it cannot read exactly. Dialects without it load backfill
   * chunks as decoded rows.
   */
  readCsvFile?(path: string, columns: CsvColumn[]): string;
}

/**
 * Everything the transactional apply strategy needs from a warehouse: a new warehouse of that kind
 * (Snowflake) supplies one such object and its `SqlSession`, and touches no shared file.
 */
export interface SqlDialect extends SqlTypes, SqlSyntax, SqlDdl, SqlDml {}

export function qualified(d: Pick<SqlSyntax, 'quoteIdent'>, t: QualifiedName): string {
  return `${d.quoteIdent(t.schema)}.${d.quoteIdent(t.name)}`;
}
