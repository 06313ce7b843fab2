import type { Change, ChangeOp, Column, Row, TableSchema, Value } from '../core/change';
import { formatLsn } from '../core/lsn';
import { dateToEpochDays, epochDaysToDate, epochMicrosToTimestamp, timestampToEpochMicros } from '../core/time';
import { avroType, compileAvro, type AvroMapping, type CompiledAvro } from './avroSchema';
import { readContainer, writeContainer } from './avroContainer';
import type { ChangeEnvelope, Codec } from './codec';
import { badPayload, badValue, checkChangeColumns, formatCommitLsn, formatCommitTime } from './envelope';
import { parseJson } from './jsonParse';
import { decodeJsonValue, jsonFallbackText } from './jsonValues';
import { bigintToTwosComplement, decimalToUnscaled, isFlatArray, microsToTime, timeToMicros, twosComplementToBigint, unscaledToDecimal } from './values';

/**
 * The avro wire format. The schema is derived from the table schema (`avroSchemaOf`, with the type
 * mapping and per-value string fallback documented in `avroSchema.ts`); a record is the envelope
 * `ChangeEvent { op (enum), schema, table, key: Row, key_columns, before: [null, Row],
 * after: [null, Row], lsn, commit_lsn, commit_time (timestamp-micros), xid, seq, unchanged_toast }`.
 * `Row` has one nullable field per table column; only `key_columns` of `key` are the key, and
 * unchanged TOAST columns are null in `after` and named in `unchanged_toast`.
 *
 * - message: one record in Avro binary encoding, no header (the reader derives the same schema from
 *   the table schema, e.g. for a schema registry);
 * - file: an object container file (`.avro`) with the schema in its header.
 */

function textOf(value: Value, column: Column): string {
  if (typeof value !== 'string') throw badValue(column, value, 'avro');
  return value;
}

function toAvro(value: Value | undefined, m: AvroMapping, column: Column): unknown {
  if (value === null || value === undefined) return null;
  switch (m.kind) {
    case 'boolean':
      if (typeof value !== 'boolean') throw badValue(column, value, 'avro');
      return value;
    case 'int':
    case 'double':
      if (typeof value !== 'number') throw badValue(column, value, 'avro');
      return value;
    case 'long':
      if (typeof value === 'bigint') return value;
      if (Number.isInteger(value) || (typeof value === 'string' && /^-?\d+$/.test(value))) return BigInt(value as number);
      throw badValue(column, value, 'avro');
    case 'bytes':
      if (!Buffer.isBuffer(value)) throw badValue(column, value, 'avro');
      return value;
    case 'decimal': {
      const unscaled = decimalToUnscaled(textOf(value, column), m);
      return unscaled === null ? value : bigintToTwosComplement(unscaled);
    }
    case 'date': {
      const s = textOf(value, column);
      return /^([+-]\d{6}|\d{4})-\d{2}-\d{2}$/.test(s) ? dateToEpochDays(s) : s;
    }
    case 'timestamp': {
      const s = textOf(value, column);
      return /^([+-]\d{6}|\d{4})-\d{2}-\d{2}T[\d:.]+Z?$/.test(s) && s.endsWith('Z') === m.utc ? timestampToEpochMicros(s) : s;
    }
    case 'time': {
      const s = textOf(value, column);
      return timeToMicros(s) ?? s;
    }
    case 'array':
      if (!Array.isArray(value)) throw badValue(column, value, 'avro');
      if (!isFlatArray(value)) return jsonFallbackText(value, column);
      return value.map((e) => toAvro(e, m.element, m.elementColumn));
    default:
      return textOf(value, column);
  }
}

function fromAvro(v: unknown, m: AvroMapping, column: Column): Value {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' && m.kind !== 'string') {
    // The string branch of a union: the text fallback.
    return m.kind === 'array' ? decodeJsonValue(parseJson(v), column, 'avro') : v;
  }
  switch (m.kind) {
    case 'long':
      return column.valueKind === 'bigint' ? (v as bigint) : Number(v);
    case 'decimal':
      return unscaledToDecimal(twosComplementToBigint(v as Buffer), m.scale);
    case 'date':
      return epochDaysToDate(v as number);
    case 'timestamp':
      return epochMicrosToTimestamp(v as bigint, m.utc);
    case 'time':
      return microsToTime(v as bigint);
    case 'bytes':
      return Buffer.from(v as Buffer);
    case 'array':
      return (v as unknown[]).map((e) => fromAvro(e, m.element, m.elementColumn));
    default:
      return v as Value;
  }
}

function rowToAvro(row: Row | null, table: TableSchema, c: CompiledAvro): Record<string, unknown> | null {
  if (!row) return null;
  const out: Record<string, unknown> = {};
  for (let i = 0; i < table.columns.length; i++) {
    const col = table.columns[i]!;
    out[c.fieldNames[i]!] = toAvro(row[col.name], c.mappings[i]!, col);
  }
  return out;
}

function rowFromAvro(rec: Record<string, unknown> | null, table: TableSchema, c: CompiledAvro): Row | null {
  if (!rec) return null;
  const out: Row = {};
  for (let i = 0; i < table.columns.length; i++) {
    const col = table.columns[i]!;
    out[col.name] = fromAvro(rec[c.fieldNames[i]!], c.mappings[i]!, col);
  }
  return out;
}

/** The avsc value of a change (for `type.toBuffer`). */
export function changeToAvro(change: Change, table: TableSchema, c = compileAvro(table)): Record<string, unknown> {
  checkChangeColumns(change, table);
  return {
    op: change.op,
    schema: change.table.schema,
    table: change.table.name,
    key: rowToAvro(change.key, table, c),
    key_columns: table.columns.filter((col) => change.key[col.name] !== undefined).map((col) => col.name),
    before: rowToAvro(change.before, table, c),
    after: rowToAvro(change.after, table, c),
    lsn: formatLsn(change.lsn),
    commit_lsn: formatCommitLsn(change.commitLsn),
    commit_time: change.commitTimeMicros,
    xid: BigInt(change.xid),
    seq: BigInt(change.seq),
    unchanged_toast: change.unchangedToast,
  };
}

interface AvroEvent {
  op: ChangeOp;
  schema: string;
  table: string;
  key: Record<string, unknown>;
  key_columns: string[];
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  lsn: string;
  commit_lsn: string;
  commit_time: bigint;
  xid: bigint;
  seq: bigint;
  unchanged_toast: string[];
}

export function avroToEnvelope(rec: AvroEvent, table: TableSchema, c = compileAvro(table)): ChangeEnvelope {
  const keyRow = rowFromAvro(rec.key, table, c)!;
  const key: Row = {};
  for (const k of rec.key_columns) key[k] = keyRow[k] ?? null;
  const after = rowFromAvro(rec.after, table, c);
  if (after) for (const t of rec.unchanged_toast) delete after[t];
  return {
    op: rec.op,
    schema: rec.schema,
    table: rec.table,
    key,
    before: rowFromAvro(rec.before, table, c),
    after,
    lsn: rec.lsn,
    commit_lsn: rec.commit_lsn,
    commit_time: formatCommitTime(rec.commit_time),
    xid: Number(rec.xid),
    seq: Number(rec.seq),
    unchanged_toast: rec.unchanged_toast,
  };
}

export const avroCodec: Codec = {
  format: 'avro',
  contentType: 'avro/binary',
  fileContentType: 'application/avro',
  fileExtension: 'avro',
  encodeMessage(change, table) {
    const c = compileAvro(table);
    return c.type.toBuffer(changeToAvro(change, table, c));
  },
  encodeFile(changes, table) {
    const c = compileAvro(table);
    return writeContainer(
      c.schemaJson,
      c.sync,
      changes.map((ch) => c.type.toBuffer(changeToAvro(ch, table, c))),
    );
  },
  decodeMessage(bytes, table) {
    const c = compileAvro(table);
    let rec: AvroEvent;
    try {
      rec = c.type.fromBuffer(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as AvroEvent;
    } catch (e) {
      throw badPayload('avro', `not a ChangeEvent record of ${table.schema}.${table.name} (${(e as Error).message})`, e);
    }
    return avroToEnvelope(rec, table, c);
  },
  decodeFile(bytes, table) {
    const c = compileAvro(table);
    const contents = readContainer(bytes);
    // Read with the writer's schema from the header; field names must match the table's.
    const writer = contents.schemaJson === c.schemaJson ? c.type : avroType(JSON.parse(contents.schemaJson));
    const out: ChangeEnvelope[] = [];
    for (const block of contents.blocks) {
      let pos = 0;
      for (let i = 0; i < block.count; i++) {
        const r = writer.decode(block.data, pos);
        if (r.value === undefined || r.offset < 0) throw badPayload('avro', 'truncated record in container block');
        out.push(avroToEnvelope(r.value as AvroEvent, table, c));
        pos = r.offset;
      }
    }
    return out;
  },
};
