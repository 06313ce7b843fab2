import type { Change, ChangeOp, Row, TableSchema } from '../core/change';

export const WIRE_FORMATS = ['json', 'arrow', 'parquet', 'avro', 'proto'] as const;
export type WireFormat = (typeof WIRE_FORMATS)[number];

export function isWireFormat(s: string): s is WireFormat {
  return (WIRE_FORMATS as readonly string[]).includes(s);
}

/**
 * The envelope every format carries for a change. Decoders return it with row values restored to
 * the exact JS forms of `Change` values (see `ValueKind`: bigint for int8, decimal text for numeric,
 * Buffer for bytea, JSON text for json/jsonb, normalized date/time text...), so
 * `decode(encode(change))` deep-equals `envelopeOf(change)` for every format, given the row images
 * the source produces (every column, except unchanged TOAST columns in `after`). Arrow, Parquet and
 * Avro carry images as whole rows, so a column missing from an image for another reason decodes as
 * NULL; json and proto keep absence as is. One json-only ambiguity: a json/jsonb document that is
 * the JSON literal `null` reads back as SQL NULL (see `jsonValues.ts`).
 */
export interface ChangeEnvelope {
  op: ChangeOp;
  schema: string;
  table: string;
  /** Key (primary key or replica identity) column values; `{}` for truncate. */
  key: Row;
  /** The old row when the source sent it, else null. */
  before: Row | null;
  /** The new row (insert/update), else null. Unchanged TOAST columns are absent and listed in `unchanged_toast`. */
  after: Row | null;
  /** WAL position of the change, `X/Y` text. */
  lsn: string;
  /** WAL position of the transaction's commit record, `X/Y` text. */
  commit_lsn: string;
  /** Commit time, ISO-8601 UTC with exactly 6 fraction digits, e.g. `2024-05-01T12:00:00.123456Z`. */
  commit_time: string;
  xid: number;
  /** Position of the change inside its transaction, from 0. */
  seq: number;
  unchanged_toast: string[];
}

/**
 * A wire format: turns changes of one table into bytes and back.
 *
 * Contract:
 * - Pure and stateless: the same input always gives the same bytes, so a replayed batch produces an
 *   identical payload (stable object keys, message bodies and idempotency hashes).
 * - Lossless: every value is either encoded in the format's own type or, when the format cannot
 *   represent it exactly (numeric `NaN` in a decimal, a date `infinity`, a multi-dimensional array),
 *   by the documented text fallback of that format. Nothing is ever rounded or truncated.
 * - Synchronous and safe to call concurrently; encoding failures (a change whose columns do not
 *   match `schema`) throw a DuctError with retry `never`.
 * - Each codec's file doc comment holds its type-mapping table and value mapping.
 */
export interface Codec {
  readonly format: WireFormat;
  /** MIME type of one message (HTTP `Content-Type`, Kafka `content-type` header). */
  readonly contentType: string;
  /** MIME type of a file from `encodeFile` (S3 object `Content-Type`). */
  readonly fileContentType: string;
  /** File extension without a dot, e.g. `jsonl`, `parquet`. */
  readonly fileExtension: string;
  /** One change as one self-contained message (Kafka value, HTTP body). */
  encodeMessage(change: Change, schema: TableSchema): Uint8Array;
  /** Changes of one table as one file (S3 object); changes keep their order. */
  encodeFile(changes: readonly Change[], schema: TableSchema): Uint8Array;
  /**
   * Decodes one message written with `schema`. The schema is needed to restore exact value forms
   * (e.g. int8 travels as a JSON string) and, for Avro, because a single record carries no schema.
   */
  decodeMessage(bytes: Uint8Array, schema: TableSchema): ChangeEnvelope;
  decodeFile(bytes: Uint8Array, schema: TableSchema): ChangeEnvelope[];
}
