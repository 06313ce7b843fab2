import type { Column, Value } from '../core/change';

/**
 * Exact conversions between `Change` value forms and the integer forms typed formats use, shared by
 * the Arrow, Avro and proto codecs. Every `to...` function returns `null` when the value has no exact
 * integer form (the caller then uses its format's text fallback); none of them rounds.
 */

export interface DecimalSpec {
  precision: number;
  scale: number;
}

/** Precision and scale of a `numeric(p,s)` column (or array element), null when unconstrained. */
export function numericSpec(column: Pick<Column, 'typmod'>): DecimalSpec | null {
  if (column.typmod < 4) return null;
  const t = column.typmod - 4;
  const precision = (t >> 16) & 0xffff;
  // PostgreSQL 15 stores the scale as an 11-bit signed number (negative scales are allowed).
  const scale = ((t & 0x7ff) ^ 1024) - 1024;
  return { precision, scale };
}

const DECIMAL_RE = /^(-?)(\d+)(?:\.(\d+))?$/;
const POW10 = new Map<number, bigint>();

function pow10(p: number): bigint {
  let v = POW10.get(p);
  if (v === undefined) POW10.set(p, (v = 10n ** BigInt(p)));
  return v;
}

/**
 * Decimal text → unscaled integer at `spec.scale`, or null when the text does not have exactly
 * `scale` fraction digits (so the decoded text would differ), exceeds the precision, or is
 * `NaN`/`Infinity`. Returns a number when the unscaled value has at most 15 digits (exact), else a
 * bigint; `decimalToUnscaled` always returns a bigint.
 */
export function decimalToUnscaledFast(text: string, spec: DecimalSpec): number | bigint | null {
  if (spec.scale < 0) return null;
  const m = DECIMAL_RE.exec(text);
  if (!m) return null;
  const frac = m[3] ?? '';
  if (frac.length !== spec.scale) return null;
  const all = m[2]! + frac;
  if (all.length <= 15) {
    const n = Number(all);
    if (spec.precision < 16 && n >= 10 ** spec.precision) return null;
    return m[1] ? -n : n;
  }
  const digits = BigInt(all);
  if (digits >= pow10(spec.precision)) return null;
  return m[1] ? -digits : digits;
}

export function decimalToUnscaled(text: string, spec: DecimalSpec): bigint | null {
  const v = decimalToUnscaledFast(text, spec);
  return v === null ? null : BigInt(v);
}

/** Unscaled integer → decimal text with exactly `scale` fraction digits, as PostgreSQL prints it. */
export function unscaledToDecimal(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  const digits = (neg ? -unscaled : unscaled).toString();
  if (scale <= 0) return (neg ? '-' : '') + digits;
  const padded = digits.padStart(scale + 1, '0');
  return (neg ? '-' : '') + padded.slice(0, -scale) + '.' + padded.slice(-scale);
}

const TIME_RE = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/** `HH:MM:SS[.ffffff]` (time without zone; `24:00:00` allowed) → microseconds since midnight. */
export function timeToMicros(text: string): bigint | null {
  const m = TIME_RE.exec(text);
  if (!m) return null;
  const secs = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
  if (secs > 86400 || (secs === 86400 && m[4] && Number(m[4]) !== 0)) return null;
  const frac = m[4] ? m[4].padEnd(6, '0') : '';
  // Round trip must give the same text: PostgreSQL never prints trailing zeros in the fraction.
  if (m[4] && m[4].endsWith('0')) return null;
  return BigInt(secs) * 1_000_000n + (frac ? BigInt(frac) : 0n);
}

export function microsToTime(micros: bigint): string {
  const secs = Number(micros / 1_000_000n);
  const frac = Number(micros % 1_000_000n);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const base = `${p2(Math.floor(secs / 3600))}:${p2(Math.floor((secs % 3600) / 60))}:${p2(secs % 60)}`;
  return frac === 0 ? base : base + '.' + String(frac).padStart(6, '0').replace(/0+$/, '');
}

/** The element "column" of an array column: element type name, same typmod, `elementKind`. */
export function elementColumn(column: Column): Column {
  const dot = column.pgType.lastIndexOf('.');
  const base = column.pgType.slice(dot + 1);
  const elemType = column.pgType.slice(0, dot + 1) + (base.startsWith('_') ? base.slice(1) : base);
  return {
    ...column,
    pgType: elemType,
    formattedType: column.formattedType.replace(/\[\]$/, ''),
    valueKind: column.elementKind ?? 'text',
    elementKind: undefined,
    nullable: true,
  };
}

/** True for a one-dimensional array (no element is itself an array). */
export function isFlatArray(value: Value): value is Value[] {
  if (!Array.isArray(value)) return false;
  for (const e of value) if (Array.isArray(e)) return false;
  return true;
}

/** Two's-complement big-endian bytes of `n`, minimal length (Avro decimal). */
export function bigintToTwosComplement(n: bigint): Buffer {
  let hex = (n < 0n ? -n : n).toString(16);
  if (hex.length % 2) hex = '0' + hex;
  let bytes = Buffer.from(hex, 'hex');
  if (n < 0n) {
    // Negate: invert and add one, in a buffer wide enough to keep a sign bit.
    const width = bytes.length + (bytes[0]! & 0x80 || bytes.length === 0 ? 1 : 0);
    let v = (1n << BigInt(width * 8)) + n;
    const out = Buffer.alloc(width);
    for (let i = width - 1; i >= 0; i--) {
      out[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    // Drop redundant leading 0xff bytes.
    let start = 0;
    while (start < out.length - 1 && out[start] === 0xff && out[start + 1]! & 0x80) start++;
    return out.subarray(start);
  }
  if (bytes.length === 0 || bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return bytes;
}

export function twosComplementToBigint(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let v = BigInt('0x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex'));
  if (bytes[0]! & 0x80) v -= 1n << BigInt(bytes.length * 8);
  return v;
}
