import type { Change, ChangeOp, Column, Row, TableSchema } from '../core/change';
import { formatLsn } from '../core/lsn';
import type { ChangeEnvelope, Codec } from './codec';
import { badPayload, formatCommitLsn, formatCommitTime, presentColumns } from './envelope';
import { parseJson, type ParsedJson } from './jsonParse';
import { decodeJsonValue, encodeJsonValue } from './jsonValues';

/**
 * The json wire format: one JSON object per change (a Kafka value, an HTTP body); a file is the
 * same objects, one per line (NDJSON, `.jsonl`).
 *
 * Object members, always in this order (so the same change gives the same bytes):
 * `op, schema, table, key, before, after, lsn, commit_lsn, commit_time, xid, seq, unchanged_toast`.
 * `key`/`before`/`after` list columns in table-schema order; `before`/`after` are `null` when absent;
 * unchanged TOAST columns are absent from `after` and named in `unchanged_toast`. LSNs are `X/Y`
 * text and `commit_time` ISO-8601 UTC with 6 fraction digits.
 *
 * Value mapping (no precision lost): see the table in `jsonValues.ts`. In short, int8 and numeric
 * are JSON strings, bytea is base64, json/jsonb columns are embedded as the stored JSON text (never
 * re-serialized through JS numbers), dates and timestamps are their normalized text, float
 * NaN/±Infinity are the strings `"NaN"`, `"Infinity"`, `"-Infinity"`, arrays are JSON arrays.
 * Fallback: every PostgreSQL type without a JSON counterpart travels as its PostgreSQL text.
 */

const OPS: readonly ChangeOp[] = ['insert', 'update', 'delete', 'truncate', 'read'];

/** `"name":` of every column, computed once per table schema. */
const memberKeys = new WeakMap<TableSchema, string[]>();

function keysOf(schema: TableSchema): string[] {
  let keys = memberKeys.get(schema);
  if (!keys) memberKeys.set(schema, (keys = schema.columns.map((c) => JSON.stringify(c.name) + ':')));
  return keys;
}

function rowJson(row: Row | null, schema: TableSchema): string {
  if (row === null) return 'null';
  const keys = keysOf(schema);
  const cols = schema.columns;
  let out = '{';
  let written = 0;
  for (let i = 0; i < cols.length; i++) {
    const c = cols[i]!;
    const v = row[c.name];
    if (v === undefined) continue;
    out += (written++ ? ',' : '') + keys[i] + encodeJsonValue(v, c);
  }
  let defined = 0;
  for (const k in row) if (row[k] !== undefined) defined++;
  if (defined !== written) presentColumns(row, schema); // throws, naming the unknown column(s)
  return out + '}';
}

// `,"schema":...,"table":...,"key":` of the last table seen (changes come in runs of one table).
let lastRefSchema: string | undefined;
let lastRefName: string | undefined;
let lastTableMembers = '';

function tableMembers(table: Change['table']): string {
  if (table.schema !== lastRefSchema || table.name !== lastRefName) {
    lastTableMembers = ',"schema":' + JSON.stringify(table.schema) + ',"table":' + JSON.stringify(table.name) + ',"key":';
    lastRefSchema = table.schema;
    lastRefName = table.name;
  }
  return lastTableMembers;
}

/** The JSON text of one change (no trailing newline). */
export function changeToJson(change: Change, schema: TableSchema): string {
  return (
    '{"op":"' +
    change.op +
    '"' +
    tableMembers(change.table) +
    rowJson(change.key, schema) +
    ',"before":' +
    rowJson(change.before, schema) +
    ',"after":' +
    rowJson(change.after, schema) +
    ',"lsn":"' +
    formatLsn(change.lsn) +
    '"' +
    ',"commit_lsn":"' +
    formatCommitLsn(change.commitLsn) +
    '"' +
    ',"commit_time":"' +
    formatCommitTime(change.commitTimeMicros) +
    '"' +
    ',"xid":' +
    String(change.xid) +
    ',"seq":' +
    String(change.seq) +
    ',"unchanged_toast":' +
    (change.unchangedToast.length === 0 ? '[]' : JSON.stringify(change.unchangedToast)) +
    '}'
  );
}

function columnMap(schema: TableSchema): Map<string, Column> {
  return new Map(schema.columns.map((c) => [c.name, c]));
}

const ROW_MEMBERS = new Set(['key', 'before', 'after']);

/** Parses one change object written by `changeToJson`. */
export function jsonToEnvelope(text: string, schema: TableSchema, columns = columnMap(schema)): ChangeEnvelope {
  let parsed: ParsedJson;
  try {
    parsed = parseJson(text, (path) => path.length === 2 && ROW_MEMBERS.has(path[0]!) && columns.get(path[1]!)?.valueKind === 'json');
  } catch (e) {
    throw badPayload('json', (e as Error).message, e);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw badPayload('json', 'expected an object');
  const o = parsed as { [k: string]: ParsedJson };
  const str = (k: string): string => {
    const v = o[k];
    if (typeof v !== 'string') throw badPayload('json', `member "${k}" must be a string`);
    return v;
  };
  const num = (k: string): number => {
    const v = o[k];
    if (typeof v !== 'number') throw badPayload('json', `member "${k}" must be a number`);
    return v;
  };
  const row = (k: string): Row | null => {
    const v = o[k];
    if (v === null) return null;
    if (typeof v !== 'object' || Array.isArray(v)) throw badPayload('json', `member "${k}" must be an object or null`);
    const out: Row = {};
    for (const [name, val] of Object.entries(v as { [k: string]: ParsedJson })) {
      const col = columns.get(name);
      if (!col) throw badPayload('json', `${k}.${name} is not a column of ${schema.schema}.${schema.name}`);
      out[name] = decodeJsonValue(val, col);
    }
    return out;
  };
  const op = str('op') as ChangeOp;
  if (!OPS.includes(op)) throw badPayload('json', `unknown op "${op}"`);
  const toast = o.unchanged_toast;
  if (!Array.isArray(toast) || toast.some((t) => typeof t !== 'string')) throw badPayload('json', 'unchanged_toast must be an array of strings');
  return {
    op,
    schema: str('schema'),
    table: str('table'),
    key: row('key') ?? {},
    before: row('before'),
    after: row('after'),
    lsn: str('lsn'),
    commit_lsn: str('commit_lsn'),
    commit_time: str('commit_time'),
    xid: num('xid'),
    seq: num('seq'),
    unchanged_toast: toast as string[],
  };
}

export const jsonCodec: Codec = {
  format: 'json',
  contentType: 'application/json',
  fileContentType: 'application/x-ndjson',
  fileExtension: 'jsonl',
  encodeMessage(change, schema) {
    return Buffer.from(changeToJson(change, schema), 'utf8');
  },
  encodeFile(changes, schema) {
    // One Buffer per line: holding 100k concatenated strings (ropes) costs more in GC than the copy.
    const lines = changes.map((c) => Buffer.from(changeToJson(c, schema) + '\n', 'utf8'));
    return Buffer.concat(lines);
  },
  decodeMessage(bytes, schema) {
    return jsonToEnvelope(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'), schema);
  },
  decodeFile(bytes, schema) {
    const columns = columnMap(schema);
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => jsonToEnvelope(line, schema, columns));
  },
};
