/**
 * One-dimensional PostgreSQL arrays in the binary wire format (what `array_send` produces and
 * `array_recv` reads), for query parameters: node-postgres sends a Buffer parameter in binary, so
 * `$1::int8[]` given one of these Buffers is read without the quoting, escaping and text parsing a
 * text-format array costs on both sides (measured: most of the client's cost per stream event).
 *
 * Layout: ndim (1), has-nulls flag, element type OID, length, lower bound (1); then per element
 * its byte length (-1 for NULL) and its binary form. The element type OID must be the one the
 * parameter's cast names, or the server refuses the array.
 */

/** Builtin type OIDs (fixed in every PostgreSQL). */
export const OID = { bytea: 17, int8: 20, int4: 23, text: 25, timestamptz: 1184, pg_lsn: 3220, jsonb: 3802 } as const;

/** Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC), the origin of binary timestamps. */
const PG_EPOCH_MICROS = 946_684_800_000_000n;

const HEADER = 20;

function header(buf: Buffer, oid: number, n: number, hasNull: boolean): number {
  buf.writeInt32BE(1, 0);
  buf.writeInt32BE(hasNull ? 1 : 0, 4);
  buf.writeInt32BE(oid, 8);
  buf.writeInt32BE(n, 12);
  buf.writeInt32BE(1, 16);
  return HEADER;
}

/** An array of 8-byte integers (`int8`), or of LSNs (`pg_lsn`, a uint64 on the wire) with `oid`. */
export function int8Array(values: ReadonlyArray<bigint | number>, oid: number = OID.int8): Buffer {
  const buf = Buffer.allocUnsafe(HEADER + values.length * 12);
  let at = header(buf, oid, values.length, false);
  for (const v of values) {
    buf.writeInt32BE(8, at);
    if (typeof v === 'number' && Number.isSafeInteger(v)) {
      // Two 32-bit halves: cheaper than a BigInt per element.
      buf.writeInt32BE(Math.floor(v / 4294967296), at + 4);
      buf.writeUInt32BE(v >>> 0, at + 8);
    } else if (oid === OID.pg_lsn) {
      buf.writeBigUInt64BE(BigInt(v), at + 4);
    } else {
      buf.writeBigInt64BE(BigInt(v), at + 4);
    }
    at += 12;
  }
  return buf;
}

/** An array of `timestamptz` from microseconds since the Unix epoch. */
export function timestamptzArray(unixMicros: readonly bigint[]): Buffer {
  return int8Array(
    unixMicros.map((us) => us - PG_EPOCH_MICROS),
    OID.timestamptz,
  );
}

/** An array of 4-byte integers (`int4`). */
export function int4Array(values: readonly number[]): Buffer {
  const buf = Buffer.allocUnsafe(HEADER + values.length * 8);
  let at = header(buf, OID.int4, values.length, false);
  for (const v of values) {
    buf.writeInt32BE(4, at);
    buf.writeInt32BE(v, at + 4);
    at += 8;
  }
  return buf;
}

/**
 * An array of `text` (UTF-8), `jsonb` (its binary form is a version byte, 1, then the JSON text)
 * or `bytea` (raw bytes) elements, by `oid`; null elements are NULL.
 */
export function varlenaArray(values: ReadonlyArray<string | Uint8Array | null>, oid: typeof OID.text | typeof OID.jsonb | typeof OID.bytea): Buffer {
  const prefix = oid === OID.jsonb ? 1 : 0;
  let size = HEADER;
  let hasNull = false;
  const lengths = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      hasNull = true;
      lengths[i] = -1;
      size += 4;
      continue;
    }
    const len = prefix + (typeof v === 'string' ? Buffer.byteLength(v) : v.length);
    lengths[i] = len;
    size += 4 + len;
  }
  const buf = Buffer.allocUnsafe(size);
  let at = header(buf, oid, values.length, hasNull);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const len = lengths[i]!;
    buf.writeInt32BE(len, at);
    at += 4;
    if (len < 0) continue;
    if (prefix) buf[at++] = 1;
    if (typeof v === 'string') at += buf.write(v, at);
    else {
      buf.set(v!, at);
      at += v!.length;
    }
  }
  return buf;
}
