import type { LogicalType } from './types';

/** A schema-qualified table name in the destination. */
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

/**
 * What differs between warehouses in the shared SQL layer. The layer builds every statement from
 * these pieces; a new warehouse (Snowflake, ClickHouse) supplies one object and its `SqlSession`,
 * and touches no shared file. Functions return SQL text; none of them runs anything.
 */
export interface SqlDialect {
  readonly name: string;
  /** Largest DECIMAL precision stored exactly; wider numerics are kept as exact text. */
  readonly maxDecimalPrecision: number;
  /**
   * True when a plain INSERT of a row whose primary key exists fails (the constraint is enforced),
   * so batches of new rows may be applied with INSERT, falling back to {@link upsert} on failure.
   * Leave unset where keys are not enforced (Snowflake): every row then goes through upsert.
   */
  readonly insertFailsOnDuplicateKey?: boolean;
  /** Where the watermark table lives (`meta_table_enabled`). */
  readonly metaTable: QualifiedName;
  /** Statements that open, commit and roll back a transaction. */
  readonly beginTransaction: string;
  readonly commit: string;
  readonly rollback: string;
  quoteIdent(name: string): string;
  /** A string literal. */
  quoteString(value: string): string;
  /** The destination type name of a logical type, e.g. `DECIMAL(30,10)`, `TIMESTAMPTZ`, `INTEGER[]`. */
  typeName(type: LogicalType): string;
  /** The current time as a timestamptz expression (metadata `synced_at`). */
  readonly currentTimestamp: string;
  /** `a` equals `b`, NULLs equal to each other. */
  nullSafeEquals(a: string, b: string): string;
  cast(expr: string, type: string): string;
  createSchema(schema: string): string;
  /** CREATE TABLE IF NOT EXISTS, with a primary key constraint when `primaryKey` is not empty. */
  createTable(table: QualifiedName, columns: ColumnDef[], primaryKey: string[]): string;
  /**
   * A session-private table to load batches into (replaced if it exists); it is emptied after
   * each batch and reused. Returns the table's name as statements should refer to it.
   */
  createLoadTable(name: string, columns: ColumnDef[]): { table: QualifiedName; sql: string };
  dropTable(table: QualifiedName): string;
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
  /** A query returning one row per column of `table`, in order, with the column name as `column_name`. */
  listColumns(table: QualifiedName): string;
  /** A query returning one row per primary key column of `table`, in key order, as `column_name`. */
  listPrimaryKey(table: QualifiedName): string;
}

export function qualified(d: SqlDialect, t: QualifiedName): string {
  return `${d.quoteIdent(t.schema)}.${d.quoteIdent(t.name)}`;
}
