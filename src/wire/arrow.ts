import {
  Field,
  Int64,
  List,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMicrosecond,
  Uint32,
  Utf8,
  makeData,
  tableFromIPC,
  tableToIPC,
  type Data,
} from 'apache-arrow';
import type { Change, ChangeOp, Column, Row, TableSchema } from '../core/change';
import { formatLsn } from '../core/lsn';
import { StructBuilder, columnBuilder, int64Builder, uint32Builder, utf8Builder, utf8ListBuilder, type ColumnBuilder } from './arrowBuild';
import { valueReader, type ValueReader } from './arrowRead';
import { columnField, fileMapping, type ArrowMapping } from './arrowTypes';
import type { ChangeEnvelope, Codec } from './codec';
import { badPayload, checkChangeColumns, formatCommitLsn, formatCommitTime } from './envelope';

/**
 * The arrow wire format: an Arrow IPC stream (`.arrows`) with one row per change. A message is a
 * stream with one row; a file holds the changes of one table in order.
 *
 * Layout (column: Arrow type):
 * - `op`, `schema`, `table`: Utf8
 * - `key`: Struct of the primary-key columns, or of every column when the table has no primary key or
 *   a change's key holds other columns (REPLICA IDENTITY FULL/INDEX); `key_columns` names the key
 *   columns each change actually has
 * - `key_columns`: List<Utf8>
 * - `before`, `after`: nullable Struct of every table column (nullable); a null struct means no image.
 *   Unchanged TOAST columns are null in `after` and named in `unchanged_toast`.
 * - `lsn`, `commit_lsn`: Utf8 `X/Y`
 * - `commit_time`: Timestamp(MICROSECOND, 'UTC')
 * - `xid`: Uint32, `seq`: Int64
 * - `unchanged_toast`: List<Utf8>
 * Struct children use the PostgreSQL column names and the type mapping of `arrowTypes.ts` (with its
 * per-file text fallback); each carries `pg_type` metadata. Typed row images hold every column, so a
 * column absent from a `before`/`after` image (other than unchanged TOAST) reads back as NULL.
 */

const ENVELOPE_TYPES = {
  text: new Utf8(),
  names: new List(new Field('item', new Utf8(), false)),
  time: new TimestampMicrosecond('UTC'),
};

/** The Arrow table of `changes` (all of table `schema`). */
export function changesToArrow(changes: readonly Change[], schema: TableSchema): Table {
  for (const c of changes) checkChangeColumns(c, schema);
  const mappings: ArrowMapping[] = schema.columns.map((col) => fileMapping(col, changes));
  const colFields = schema.columns.map((col, i) => columnField(col, mappings[i]!));
  const rowType = new Struct(colFields);
  const struct = () =>
    new StructBuilder(
      rowType,
      schema.columns,
      schema.columns.map((col, i) => columnBuilder(col, mappings[i]!)),
    );
  const keyIdx = keyColumnIndexes(changes, schema);
  const keyType = new Struct(keyIdx.map((i) => colFields[i]!));
  const keyCols = keyIdx.map((i) => schema.columns[i]!);

  const op = utf8Builder(ENVELOPE_TYPES.text);
  const sch = utf8Builder(ENVELOPE_TYPES.text);
  const tbl = utf8Builder(ENVELOPE_TYPES.text);
  const key = new StructBuilder(
    keyType,
    keyCols,
    keyIdx.map((i) => columnBuilder(schema.columns[i]!, mappings[i]!)),
  );
  const keyColumns = utf8ListBuilder(ENVELOPE_TYPES.names, ENVELOPE_TYPES.text);
  const before = struct();
  const after = struct();
  const lsn = utf8Builder(ENVELOPE_TYPES.text);
  const commitLsn = utf8Builder(ENVELOPE_TYPES.text);
  const commitTime = int64Builder(ENVELOPE_TYPES.time);
  const xid = uint32Builder(new Uint32());
  const seq = int64Builder(new Int64());
  const toast = utf8ListBuilder(ENVELOPE_TYPES.names, ENVELOPE_TYPES.text);

  const keyNames = new KeyNames(schema);
  for (const c of changes) {
    op.push(c.op);
    sch.push(c.table.schema);
    tbl.push(c.table.name);
    key.push(c.key);
    keyColumns.push(keyNames.of(c.key));
    before.push(c.before);
    after.push(c.after);
    lsn.push(formatLsn(c.lsn));
    commitLsn.push(formatCommitLsn(c.commitLsn));
    commitTime.push(c.commitTimeMicros);
    xid.push(c.xid);
    seq.push(BigInt(c.seq));
    toast.push(c.unchangedToast);
  }

  const columns: [string, ColumnBuilder | StructBuilder, boolean][] = [
    ['op', op, false],
    ['schema', sch, false],
    ['table', tbl, false],
    ['key', key, false],
    ['key_columns', keyColumns, false],
    ['before', before, true],
    ['after', after, true],
    ['lsn', lsn, false],
    ['commit_lsn', commitLsn, false],
    ['commit_time', commitTime, false],
    ['xid', xid, false],
    ['seq', seq, false],
    ['unchanged_toast', toast, false],
  ];
  const fields = columns.map(([name, b, nullable]) => new Field(name, b.type, nullable));
  const arrowSchema = new Schema(fields, new Map([['ductstream.table', `${schema.schema}.${schema.name}`]]));
  const children: Data[] = columns.map(([, b]) => b.finish());
  const batchData = makeData({ type: new Struct(fields), length: changes.length, nullCount: 0, children });
  return new Table(arrowSchema, [new RecordBatch(arrowSchema, batchData)]);
}

/**
 * Columns of the `key` struct: the primary key when every change's key is made of primary-key
 * columns (the usual case), else every column (no primary key, REPLICA IDENTITY FULL or INDEX).
 */
function keyColumnIndexes(changes: readonly Change[], schema: TableSchema): number[] {
  const all = schema.columns.map((_, i) => i);
  if (schema.primaryKey.length === 0) return all;
  const pk = new Set(schema.primaryKey);
  for (const c of changes) for (const k in c.key) if (c.key[k] !== undefined && !pk.has(k)) return all;
  return all.filter((i) => pk.has(schema.columns[i]!.name));
}

/** Names of the key columns of a row, in table order; the usual primary-key shape is reused. */
export class KeyNames {
  private readonly pk: string[];
  constructor(private readonly schema: TableSchema) {
    this.pk = schema.primaryKey;
  }
  of(key: Row): string[] {
    let n = 0;
    for (const k in key) if (key[k] !== undefined) n++;
    if (n === this.pk.length && this.pk.every((k) => key[k] !== undefined)) return this.pk;
    return this.schema.columns.filter((col) => key[col.name] !== undefined).map((col) => col.name);
  }
}

/** Envelopes of every row of an Arrow table written by `changesToArrow` (or read back from Parquet). */
export function arrowToEnvelopes(table: Table, schema: TableSchema, format = 'arrow'): ChangeEnvelope[] {
  const byName = new Map(schema.columns.map((c) => [c.name, c]));
  const out: ChangeEnvelope[] = [];
  for (const batch of table.batches) {
    const child = (name: string): Data => {
      const v = batch.getChild(name);
      if (!v) throw badPayload(format, `missing column "${name}"`);
      return v.data[0] as Data;
    };
    const fieldOf = (name: string): Field => batch.schema.fields.find((f) => f.name === name)!;
    const str = utf8Reader(child, fieldOf, ['op', 'schema', 'table', 'lsn', 'commit_lsn'], format);
    const names = (name: string) => valueReader(child(name), fieldOf(name), envelopeColumn(name, 'array'), format);
    const rowReader = (name: string) => structReader(child(name), fieldOf(name), byName, format);
    const key = rowReader('key');
    const keyColumns = names('key_columns');
    const before = rowReader('before');
    const after = rowReader('after');
    const toast = names('unchanged_toast');
    const commitTime = child('commit_time').values as BigInt64Array;
    const xid = child('xid').values as Uint32Array;
    const seq = child('seq').values as BigInt64Array;
    for (let i = 0; i < batch.numRows; i++) {
      const unchanged = toast(i) as string[];
      const keyRow = key(i)!;
      const keyOnly: Row = {};
      for (const k of keyColumns(i) as string[]) keyOnly[k] = keyRow[k] ?? null;
      const afterRow = after(i);
      if (afterRow) for (const t of unchanged) delete afterRow[t];
      out.push({
        op: str.op!(i) as ChangeOp,
        schema: str.schema!(i),
        table: str.table!(i),
        key: keyOnly,
        before: before(i),
        after: afterRow,
        lsn: str.lsn!(i),
        commit_lsn: str.commit_lsn!(i),
        commit_time: formatCommitTime(commitTime[i]!),
        xid: xid[i]!,
        seq: Number(seq[i]!),
        unchanged_toast: unchanged,
      });
    }
  }
  return out;
}

/** A column description for an envelope member (text, or an array of text). */
function envelopeColumn(name: string, kind: 'text' | 'array'): Column {
  return kind === 'text'
    ? { name, pgType: 'text', typeOid: 25, typmod: -1, formattedType: 'text', nullable: false, valueKind: 'text' }
    : { name, pgType: '_text', typeOid: 1009, typmod: -1, formattedType: 'text[]', nullable: false, valueKind: 'array', elementKind: 'text' };
}

function utf8Reader(child: (n: string) => Data, fieldOf: (n: string) => Field, names: string[], format: string): Record<string, (i: number) => string> {
  const out: Record<string, (i: number) => string> = {};
  for (const n of names) {
    const r = valueReader(child(n), fieldOf(n), envelopeColumn(n, 'text'), format);
    out[n] = (i) => r(i) as string;
  }
  return out;
}

function structReader(data: Data, field: Field, byName: Map<string, Column>, format: string): (i: number) => Row | null {
  const fields = (field.type as Struct).children;
  const readers: [string, ValueReader][] = fields.map((f, j) => {
    const col = byName.get(f.name);
    if (!col) throw badPayload(format, `${field.name}.${f.name} is not a column of the table schema`);
    return [f.name, valueReader(data.children[j]!, f, col, format)];
  });
  return (i) => {
    if (!data.getValid(i)) return null;
    const row: Row = {};
    for (const [name, read] of readers) row[name] = read(i);
    return row;
  };
}

export const arrowCodec: Codec = {
  format: 'arrow',
  contentType: 'application/vnd.apache.arrow.stream',
  fileContentType: 'application/vnd.apache.arrow.stream',
  fileExtension: 'arrows',
  encodeMessage(change, schema) {
    return tableToIPC(changesToArrow([change], schema), 'stream');
  },
  encodeFile(changes, schema) {
    return tableToIPC(changesToArrow(changes, schema), 'stream');
  },
  decodeMessage(bytes, schema) {
    const all = arrowCodec.decodeFile(bytes, schema);
    if (all.length !== 1) throw badPayload('arrow', `a message must hold one change, found ${all.length}`);
    return all[0]!;
  },
  decodeFile(bytes, schema) {
    let table: Table;
    try {
      table = tableFromIPC(bytes);
    } catch (e) {
      throw badPayload('arrow', `not an Arrow IPC stream (${(e as Error).message})`, e);
    }
    return arrowToEnvelopes(table, schema);
  },
};
