import type { Change, TableSchema } from '../core/change';

export const WIRE_FORMATS = ['json', 'arrow', 'parquet', 'avro', 'proto'] as const;
export type WireFormat = (typeof WIRE_FORMATS)[number];

export function isWireFormat(s: string): s is WireFormat {
  return (WIRE_FORMATS as readonly string[]).includes(s);
}

/**
 * The envelope every format carries for a change, in the format's own types. Decoders return it
 * with values in the format's natural JS form (see each codec's doc for its value mapping).
 */
export interface ChangeEnvelope {
  op: Change['op'];
  schema: string;
  table: string;
  key: Record<string, unknown>;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  /** LSNs as `X/Y` text. */
  lsn: string;
  commit_lsn: string;
  /** Commit time as an ISO-8601 UTC timestamp with microseconds. */
  commit_time: string;
  xid: number;
  seq: number;
  unchanged_toast: string[];
}

/**
 * A wire format. Codecs are pure and stateless: the same input always gives the same bytes, so a
 * replayed batch produces an identical payload (idempotent object keys and message bodies).
 */
export interface Codec {
  readonly format: WireFormat;
  /** MIME type for HTTP `Content-Type` and S3 object metadata. */
  readonly contentType: string;
  /** File extension without a dot, e.g. `jsonl`, `parquet`. */
  readonly fileExtension: string;
  /** One change as one self-contained message (Kafka value, HTTP body). */
  encodeMessage(change: Change, schema: TableSchema): Uint8Array;
  /** Changes of one table as one file (S3 object); changes are in stream order. */
  encodeFile(changes: Change[], schema: TableSchema): Uint8Array;
  decodeMessage(bytes: Uint8Array): ChangeEnvelope;
  decodeFile(bytes: Uint8Array): ChangeEnvelope[];
}
