import type { Change, Column, Row, TableSchema } from '../core/change';
import { DuctError } from '../core/errors';
import { formatLsn } from '../core/lsn';
import { epochMicrosToTimestamp, timestampToEpochMicros } from '../core/time';
import type { ChangeEnvelope } from './codec';

/**
 * Envelope helpers shared by every codec: the expected envelope of a change, the commit time text,
 * and the one check that a row's columns belong to its table schema.
 */

/** The envelope a codec must reproduce for `change` (what `decode(encode(change))` returns). */
export function envelopeOf(change: Change): ChangeEnvelope {
  return {
    op: change.op,
    schema: change.table.schema,
    table: change.table.name,
    key: definedOnly(change.key),
    before: change.before ? definedOnly(change.before) : null,
    after: change.after ? definedOnly(change.after) : null,
    lsn: formatLsn(change.lsn),
    commit_lsn: formatCommitLsn(change.commitLsn),
    commit_time: formatCommitTime(change.commitTimeMicros),
    xid: change.xid,
    seq: change.seq,
    unchanged_toast: [...change.unchangedToast],
  };
}

function definedOnly(row: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) if (v !== undefined) out[k] = v;
  return out;
}

// Changes of one transaction share their commit time and commit LSN: remember the last text of each.
let lastCommitMicros: bigint | undefined;
let lastCommitText = '';
let lastCommitLsn: bigint | undefined;
let lastCommitLsnText = '';

/** Microseconds since the epoch → `YYYY-MM-DDTHH:MM:SS.ffffffZ` (always 6 fraction digits). */
export function formatCommitTime(micros: bigint): string {
  if (micros === lastCommitMicros) return lastCommitText;
  const text = epochMicrosToTimestamp(micros, true);
  const dot = text.indexOf('.');
  lastCommitText = dot < 0 ? text.slice(0, -1) + '.000000Z' : text.slice(0, -1).padEnd(dot + 7, '0') + 'Z';
  lastCommitMicros = micros;
  return lastCommitText;
}

/** `formatLsn` for commit LSNs (same value for every change of a transaction). */
export function formatCommitLsn(lsn: bigint): string {
  if (lsn !== lastCommitLsn) {
    lastCommitLsnText = formatLsn(lsn);
    lastCommitLsn = lsn;
  }
  return lastCommitLsnText;
}

export function parseCommitTime(text: string): bigint {
  return timestampToEpochMicros(text);
}

/**
 * The columns of `schema` present in `row`, in schema order. A column whose value is `undefined`
 * counts as absent (an unchanged TOAST value). Throws when the row has a column the schema lacks:
 * encoding it would have to guess its type, and dropping it would lose data.
 */
export function presentColumns(row: Row, schema: TableSchema): Column[] {
  const out: Column[] = [];
  for (const c of schema.columns) if (row[c.name] !== undefined) out.push(c);
  let defined = 0;
  for (const k in row) if (row[k] !== undefined) defined++;
  if (defined !== out.length) {
    const known = new Set(schema.columns.map((c) => c.name));
    const unknown = Object.keys(row).filter((k) => row[k] !== undefined && !known.has(k));
    throw new DuctError('internal', `change for ${schema.schema}.${schema.name} has column(s) ${unknown.join(', ')} missing from its table schema`, {
      retry: 'never',
      hint: 'the source must send a Relation (schema) update before changes with new columns',
    });
  }
  return out;
}

/** The same check without allocating (the hot path); throws like `presentColumns`. */
export function checkRowColumns(row: Row, schema: TableSchema): void {
  let present = 0;
  for (const c of schema.columns) if (row[c.name] !== undefined) present++;
  let defined = 0;
  for (const k in row) if (row[k] !== undefined) defined++;
  if (defined !== present) presentColumns(row, schema);
}

/** The same check for all row images of a change. */
export function checkChangeColumns(change: Change, schema: TableSchema): void {
  checkRowColumns(change.key, schema);
  if (change.before) checkRowColumns(change.before, schema);
  if (change.after) checkRowColumns(change.after, schema);
}

/** A value that is not what the column's value kind promises (a source bug, never retried). */
export function badValue(column: Column, value: unknown, format: string): DuctError {
  const shown = typeof value === 'object' && value !== null ? (Array.isArray(value) ? 'array' : (value.constructor?.name ?? 'object')) : typeof value;
  return new DuctError('internal', `${format}: column "${column.name}" (${column.formattedType}, kind ${column.valueKind}) got a ${shown} value`, {
    retry: 'never',
  });
}

/** A payload that is not valid for its format (decoders): bad input, never retried. */
export function badPayload(format: string, problem: string, cause?: unknown): DuctError {
  return new DuctError('invalid_argument', `${format} payload: ${problem}`, { retry: 'never', cause });
}
