import { existsSync } from 'node:fs';
import path from 'node:path';
import * as protobuf from 'protobufjs';
import type { Change, ChangeOp, Column, Row, TableSchema, Value, ValueKind } from '../core/change';
import { DuctError } from '../core/errors';
import { formatLsn } from '../core/lsn';
import { dateToEpochDays, epochDaysToDate, epochMicrosToTimestamp, timestampToEpochMicros } from '../core/time';
import type { ChangeEnvelope, Codec } from './codec';
import { badPayload, badValue, checkChangeColumns, formatCommitLsn, formatCommitTime } from './envelope';
import { microsToTime, timeToMicros } from './values';

/**
 * The proto wire format: `ductstream.v1.ChangeEvent` per message and `ductstream.v1.ChangeBatch`
 * per file, defined in `proto/ductstream/v1/change.proto` and loaded at run time with protobufjs.
 *
 * Type mapping (Value oneof member per PostgreSQL type):
 *
 * | PostgreSQL (ValueKind)          | Value member                                   |
 * |---------------------------------|------------------------------------------------|
 * | bool                            | bool_value                                     |
 * | int2, int4, oid, int8           | int_value (int64)                              |
 * | float4, float8                  | double_value (NaN, ±Infinity, -0 kept)         |
 * | numeric                         | decimal_value (exact text, also NaN/Infinity)  |
 * | bytea                           | bytes_value                                    |
 * | json, jsonb                     | json_value (stored text)                       |
 * | date                            | date_days — fallback string_value              |
 * | timestamp                       | local_timestamp_micros — fallback string_value |
 * | timestamptz                     | timestamp_micros — fallback string_value       |
 * | time                            | time_micros — fallback string_value            |
 * | arrays (any dimensions)         | list_value (nested for multi-dimensional)      |
 * | text, varchar, uuid, enum, timetz, interval, other | string_value               |
 * | NULL                            | null_value                                     |
 *
 * Fallback: a date/timestamp at `±infinity` (or any value of those kinds without an exact integer
 * form) is sent as its `Change` text in `string_value`. Rows list only the columns they hold, so
 * unchanged TOAST columns and non-key columns are absent, exactly as in the `Change`.
 */

const OPS: ChangeOp[] = ['insert', 'update', 'delete', 'truncate', 'read'];

/** Finds `proto/` from src/wire (jest, tsx) or dist/src/wire (compiled): the first ancestor that has it. */
export function protoDir(start = __dirname): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'proto');
    if (existsSync(path.join(candidate, 'ductstream/v1/change.proto'))) return candidate;
    if (path.dirname(dir) === dir)
      throw new DuctError('internal', `proto/ductstream/v1/change.proto not found above ${start}`, {
        retry: 'never',
        hint: 'ship the proto/ folder with the package',
      });
  }
}

interface ProtoTypes {
  event: protobuf.Type;
  batch: protobuf.Type;
}

let types: ProtoTypes | undefined;

function protoTypes(): ProtoTypes {
  if (!types) {
    const root = new protobuf.Root().loadSync(path.join(protoDir(), 'ductstream/v1/change.proto'), { keepCase: true });
    types = { event: root.lookupType('ductstream.v1.ChangeEvent'), batch: root.lookupType('ductstream.v1.ChangeBatch') };
  }
  return types;
}

type Long = { low: number; high: number; unsigned?: boolean };
type PValue = { [member: string]: unknown };

/** bigint → what protobufjs writes as int64 (a number when exact, else low/high bits). */
function int64(b: bigint): number | Long {
  if (b >= -9007199254740991n && b <= 9007199254740991n) return Number(b);
  return { low: Number(b & 0xffffffffn) | 0, high: Number((b >> 32n) & 0xffffffffn) | 0 };
}

/** protobufjs int64 (number or Long) → bigint. */
function fromInt64(v: unknown): bigint {
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'bigint') return v;
  const l = v as Long;
  return BigInt.asIntN(64, (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0));
}

const NULL: PValue = { null_value: 0 };
const DATE_RE = /^([+-]\d{6}|\d{4})-\d{2}-\d{2}$/;
const TS_RE = /^([+-]\d{6}|\d{4})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z?$/;

function textOf(v: Value, column: Column): string {
  if (typeof v !== 'string') throw badValue(column, v, 'proto');
  return v;
}

function toProto(v: Value | undefined, kind: ValueKind, column: Column): PValue {
  if (v === null || v === undefined) return NULL;
  if (Array.isArray(v)) {
    if (kind !== 'array') throw badValue(column, v, 'proto');
    const ek = column.elementKind ?? 'text';
    return { list_value: { values: v.map((e) => (Array.isArray(e) ? toProto(e, 'array', column) : toProto(e, ek, column))) } };
  }
  switch (kind) {
    case 'bool':
      if (typeof v !== 'boolean') throw badValue(column, v, 'proto');
      return { bool_value: v };
    case 'int':
    case 'bigint':
      if (typeof v === 'bigint') return { int_value: int64(v) };
      if (Number.isInteger(v) || (typeof v === 'string' && /^-?\d+$/.test(v))) return { int_value: int64(BigInt(v as number)) };
      throw badValue(column, v, 'proto');
    case 'float':
      if (typeof v !== 'number') throw badValue(column, v, 'proto');
      return { double_value: v };
    case 'numeric':
      return { decimal_value: textOf(v, column) };
    case 'bytes':
      if (!Buffer.isBuffer(v)) throw badValue(column, v, 'proto');
      return { bytes_value: v };
    case 'json':
      return { json_value: textOf(v, column) };
    case 'date': {
      const s = textOf(v, column);
      return DATE_RE.test(s) ? { date_days: dateToEpochDays(s) } : { string_value: s };
    }
    case 'timestamp':
    case 'timestamptz': {
      const s = textOf(v, column);
      const utc = kind === 'timestamptz';
      if (!TS_RE.test(s) || s.endsWith('Z') !== utc) return { string_value: s };
      return utc ? { timestamp_micros: int64(timestampToEpochMicros(s)) } : { local_timestamp_micros: int64(timestampToEpochMicros(s)) };
    }
    case 'time': {
      const s = textOf(v, column);
      const micros = column.pgType === 'time' || column.pgType === '_time' ? timeToMicros(s) : null;
      return micros === null ? { string_value: s } : { time_micros: int64(micros) };
    }
    case 'array':
      throw badValue(column, v, 'proto');
    default:
      return { string_value: textOf(v, column) };
  }
}

function fromProto(p: PValue, kind: ValueKind, column: Column): Value {
  const member = Object.keys(p).find((k) => k !== 'kind' && p[k] !== undefined && p[k] !== null);
  const v = member === undefined ? undefined : p[member];
  switch (member) {
    case undefined:
    case 'null_value':
      return null;
    case 'bool_value':
      return v as boolean;
    case 'int_value':
      return kind === 'bigint' ? fromInt64(v) : Number(fromInt64(v));
    case 'double_value':
      return v as number;
    case 'string_value':
    case 'decimal_value':
    case 'json_value':
      return v as string;
    case 'bytes_value':
      return Buffer.from(v as Uint8Array);
    case 'date_days':
      return epochDaysToDate(v as number);
    case 'timestamp_micros':
      return epochMicrosToTimestamp(fromInt64(v), true);
    case 'local_timestamp_micros':
      return epochMicrosToTimestamp(fromInt64(v), false);
    case 'time_micros':
      return microsToTime(fromInt64(v));
    case 'list_value': {
      const ek = column.elementKind ?? 'text';
      const values = (v as { values?: PValue[] }).values ?? [];
      return values.map((e) => (e.list_value ? fromProto(e, 'array', column) : fromProto(e, ek, column)));
    }
    default:
      throw badPayload('proto', `column "${column.name}": unknown Value member ${member}`);
  }
}

function rowToProto(row: Row | null, table: TableSchema): { fields: { name: string; value: PValue }[] } | null {
  if (!row) return null;
  const fields: { name: string; value: PValue }[] = [];
  for (const c of table.columns) {
    const v = row[c.name];
    if (v !== undefined) fields.push({ name: c.name, value: toProto(v, c.valueKind, c) });
  }
  return { fields };
}

function rowFromProto(row: { fields?: { name: string; value?: PValue }[] } | null | undefined, byName: Map<string, Column>): Row {
  const out: Row = {};
  for (const f of row?.fields ?? []) {
    const col = byName.get(f.name);
    if (!col) throw badPayload('proto', `field "${f.name}" is not a column of the table schema`);
    out[f.name] = fromProto(f.value ?? NULL, col.valueKind, col);
  }
  return out;
}

/** The protobufjs plain object of a change (for `ChangeEvent.encode`). */
export function changeToProto(change: Change, table: TableSchema): Record<string, unknown> {
  checkChangeColumns(change, table);
  const msg: Record<string, unknown> = {
    op: OPS.indexOf(change.op) + 1,
    schema: change.table.schema,
    table: change.table.name,
    key: rowToProto(change.key, table),
    lsn: formatLsn(change.lsn),
    commit_lsn: formatCommitLsn(change.commitLsn),
    commit_time_micros: int64(change.commitTimeMicros),
    xid: change.xid,
    seq: int64(BigInt(change.seq)),
    unchanged_toast: change.unchangedToast,
  };
  if (change.before) msg.before = rowToProto(change.before, table);
  if (change.after) msg.after = rowToProto(change.after, table);
  return msg;
}

type ProtoEvent = { [k: string]: unknown };

function protoToEnvelope(m: ProtoEvent, table: TableSchema, byName: Map<string, Column>): ChangeEnvelope {
  const op = OPS[(m.op as number) - 1];
  if (!op) throw badPayload('proto', `unknown op ${String(m.op)}`);
  type ProtoRow = Parameters<typeof rowFromProto>[0];
  return {
    op,
    schema: (m.schema as string) ?? '',
    table: (m.table as string) ?? '',
    key: rowFromProto(m.key as ProtoRow, byName),
    before: m.before ? rowFromProto(m.before, byName) : null,
    after: m.after ? rowFromProto(m.after, byName) : null,
    lsn: (m.lsn as string) ?? '',
    commit_lsn: (m.commit_lsn as string) ?? '',
    commit_time: formatCommitTime(fromInt64(m.commit_time_micros ?? 0)),
    xid: (m.xid as number) ?? 0,
    seq: Number(fromInt64(m.seq ?? 0)),
    unchanged_toast: (m.unchanged_toast as string[]) ?? [],
  };
}

function decodeWith(type: protobuf.Type, bytes: Uint8Array, what: string): ProtoEvent {
  try {
    return type.decode(bytes);
  } catch (e) {
    throw badPayload('proto', `not a ${what} (${(e as Error).message})`, e);
  }
}

export const protoCodec: Codec = {
  format: 'proto',
  contentType: 'application/x-protobuf; messageType=ductstream.v1.ChangeEvent',
  fileContentType: 'application/x-protobuf; messageType=ductstream.v1.ChangeBatch',
  fileExtension: 'binpb',
  encodeMessage(change, table) {
    const { event } = protoTypes();
    return event.encode(changeToProto(change, table)).finish();
  },
  encodeFile(changes, table) {
    const { batch, event } = protoTypes();
    // Same bytes as encoding one ChangeBatch object, but each event's object tree is garbage as soon
    // as it is written (field 4, `events`, is the last field: tag 4<<3|2 = 34, then length-delimited).
    const w = protobuf.Writer.create();
    batch.encode(
      { schema: table.schema, table: table.name, columns: table.columns.map((c) => ({ name: c.name, pg_type: c.formattedType, nullable: c.nullable })) },
      w,
    );
    for (const c of changes) event.encode(changeToProto(c, table), w.uint32(34).fork()).ldelim();
    return w.finish();
  },
  decodeMessage(bytes, table) {
    const m = decodeWith(protoTypes().event, bytes, 'ductstream.v1.ChangeEvent');
    return protoToEnvelope(m, table, new Map(table.columns.map((c) => [c.name, c])));
  },
  decodeFile(bytes, table) {
    const b = decodeWith(protoTypes().batch, bytes, 'ductstream.v1.ChangeBatch');
    const byName = new Map(table.columns.map((c) => [c.name, c]));
    return ((b.events as ProtoEvent[]) ?? []).map((m) => protoToEnvelope(m, table, byName));
  },
};
