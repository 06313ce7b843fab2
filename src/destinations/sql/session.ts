import type { Value } from '../../core/change';
import type { QualifiedName } from './dialect';
import type { LogicalType } from './types';

/** One column of rows to load, column-major: `values[i]` is row i's value (`null` for NULL). */
export interface LoadColumn {
  name: string;
  type: LogicalType;
  /**
   * Values in the `Change` representation (see `ValueKind`). Metadata columns also use: a bigint
   * for `lsn`, and a bigint of epoch microseconds for `timestamptz`.
   */
  values: Value[];
}

/**
 * A connection to a warehouse as the shared SQL layer uses it. One session runs one statement at a
 * time, in autocommit mode unless a script opens a transaction (`SqlDialect.beginTransaction`).
 * Implementations classify their errors as DuctErrors (retry class decided there).
 */
export interface SqlSession {
  execute(sql: string): Promise<void>;
  /**
   * Runs statements in order, stopping at the first failure; a session may send them in one round
   * trip (DuckDB: one multi-statement call, which costs about as much as one statement).
   */
  executeScript(statements: string[]): Promise<void>;
  /**
   * Runs one INSERT, UPDATE or DELETE and returns the number of rows it changed. Optional: with
   * it, the writer applies a batch of updates with a plain UPDATE and checks the count.
   */
  executeCounting?(sql: string): Promise<number>;
  /** Rows as plain objects: 64-bit integers as bigint, text as string, NULL as null. */
  query(sql: string): Promise<Record<string, unknown>[]>;
  /**
   * Appends `rowCount` rows to an existing table whose columns are exactly `columns`, in order
   * (load tables: session-private, so loading them outside the batch's transaction is safe).
   */
  load(table: QualifiedName, columns: LoadColumn[], rowCount: number): Promise<void>;
  /**
   * Optional: appends rows as `load` does, but to any table and inside the session's open
   * transaction (rolled back with it), enforcing the table's constraints (a duplicate key throws).
   * With it, batches of backfilled rows skip the load table (see `direct-append.ts`).
   */
  appendInTransaction?(table: QualifiedName, columns: LoadColumn[], rowCount: number): Promise<void>;
}
