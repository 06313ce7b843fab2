/**
 * A PostgreSQL WAL position. Inside the program an LSN is a `bigint` so that it compares
 * numerically; at the edges (flags, JSON, logs, the checkpoint tables) it is the `"X/Y"` text
 * form PostgreSQL prints. Never compare the text form: `"0/A" > "0/10"` as strings.
 */
export type Lsn = bigint;

export const ZERO_LSN: Lsn = 0n;

const LSN_PATTERN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** True when `text` is a well-formed `X/Y` LSN. */
export function isLsnText(text: string): boolean {
  return LSN_PATTERN.test(text.trim());
}

/** Parses `"16/B374D848"`; throws a plain Error on malformed input (callers wrap it with the field name). */
export function parseLsn(text: string): Lsn {
  const m = LSN_PATTERN.exec(text.trim());
  if (!m) throw new Error(`malformed LSN "${text}": expected two hex numbers as X/Y, e.g. 0/16B6C50`);
  return (BigInt('0x' + m[1]) << 32n) | BigInt('0x' + m[2]);
}

const HEX = '0123456789ABCDEF';

/** Upper-case hex of a 32-bit unsigned integer, no padding. */
function hex32(v: number): string {
  let s = '';
  do {
    s = HEX[v & 15]! + s;
    v >>>= 4;
  } while (v !== 0);
  return s;
}

/** Formats an LSN the way PostgreSQL does (upper-case hex, no padding). */
export function formatLsn(lsn: Lsn): string {
  // Below 2^53 (every LSN a server reaches in practice) number arithmetic is exact and ~2x faster.
  if (lsn >= 0n && lsn <= 0x1fffffffffffffn) {
    const n = Number(lsn);
    return `${hex32(Math.floor(n / 4294967296))}/${hex32(n >>> 0)}`;
  }
  const hi = (lsn >> 32n) & 0xffffffffn;
  const lo = lsn & 0xffffffffn;
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}

export function maxLsn(a: Lsn, b: Lsn): Lsn {
  return a > b ? a : b;
}
