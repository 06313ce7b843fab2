import { tableKey, type Row, type TableSchema } from '../../core/change';
import type { EventRow } from '../../pgstream/eventLog';
import type { WireFormat } from '../../wire/codec';
import { encodeJsonValue } from '../../wire/jsonValues';
import type { EncodedBatch } from '../destination';
import { avroSchemaJson } from '../schemaCarrier';

/**
 * The stream events of a batch: one per change, its payload the change encoded as one message of
 * `format` (memoized by the batch, so other destinations of the same format share the encoding).
 */
export function eventRowsOf(batch: EncodedBatch, format: WireFormat): EventRow[] {
  if (batch.changes.length === 0) return [];
  const payloads = batch.messages(format);
  // avro: the writer schema travels with each event (one text per table schema, shared).
  const schemas = new Map<TableSchema, string>();
  const avroSchemaOf = (t: TableSchema | undefined): string | null => {
    if (format !== 'avro' || !t) return null;
    let json = schemas.get(t);
    if (json === undefined) schemas.set(t, (json = avroSchemaJson(t)));
    return json;
  };
  return batch.changes.map((c, i) => {
    const schema = batch.schemas.get(tableKey(c.table));
    return {
      commitLsn: c.commitLsn,
      seq: c.seq,
      lsn: c.lsn,
      commitTimeMicros: c.commitTimeMicros,
      xid: c.xid,
      tableSchema: c.table.schema,
      tableName: c.table.name,
      op: c.op,
      keyJson: keyJson(c.key, schema),
      format,
      payload: payloads[i]!,
      avroSchema: avroSchemaOf(schema),
    };
  });
}

/** The key values as a JSON object, in the json wire format's value mapping (int8 as a string, bytea base64...). */
export function keyJson(key: Row, schema: TableSchema | undefined): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(key)) {
    if (value === undefined) continue;
    const column = schema?.columns.find((col) => col.name === name);
    const text = column
      ? encodeJsonValue(value, column)
      : JSON.stringify(typeof value === 'bigint' ? value.toString() : Buffer.isBuffer(value) ? value.toString('base64') : value);
    parts.push(`${JSON.stringify(name)}:${text}`);
  }
  return `{${parts.join(',')}}`;
}
