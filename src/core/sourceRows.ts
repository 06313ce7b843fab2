import type { Row, TableSchema } from './change';

/**
 * Reads the current rows of a source table by primary key: what a destination uses for column
 * values a change did not carry (unchanged TOAST values of a row the destination does not hold).
 *
 * Contract: read outside the stream's snapshot, so a row can be newer than the change that asked
 * for it (a later change of the stream then brings the destination back in step). Keys whose row
 * no longer exists are left out. Values are parsed exactly as the replication stream parses them.
 * Errors are DuctErrors (a lost connection is transient). Not safe for concurrent calls.
 */
export interface SourceRowReader {
  rowsByKey(schema: TableSchema, keys: readonly Row[]): Promise<Row[]>;
  close(): Promise<void>;
}
