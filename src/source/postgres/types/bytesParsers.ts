import type { Value } from '../../../core/change';
import type { TextParser } from './scalars';

/**
 * A value parser that reads the server's text straight from the receive buffer (`buf[start..end)`)
 * instead of from a decoded string: integers and booleans become values without any string,
 * timestamps become their normalized text in one flat string. Each returns exactly what its type's
 * {@link TextParser} returns for the same text; on text off its fast path it decodes the string
 * and asks that parser.
 */
export type BytesParser = (buf: Buffer, start: number, end: number) => Value;

interface Utf8Slicer {
  utf8Slice(start: number, end: number): string;
}

function text(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as Utf8Slicer).utf8Slice(start, end);
}

/**
 * `-?digits` of at most 15 characters (below 2^53 in magnitude) → the number; undefined otherwise.
 * PostgreSQL writes integers exactly so: no `+`, no spaces, no leading zeros.
 */
function smallInteger(buf: Buffer, start: number, end: number): number | undefined {
  const negative = buf[start] === 45; /* - */
  let i = negative ? start + 1 : start;
  if (i === end || end - start > 15) return undefined;
  let n = 0;
  for (; i < end; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return negative ? -n : n;
}

/** int2, int4, oid (as `parseSmallInt`: `Number(text)`). */
export function smallIntBytes(fallback: TextParser): BytesParser {
  return (buf, start, end) => smallInteger(buf, start, end) ?? fallback(text(buf, start, end));
}

/** int8 (as `parseBigInt`: an exact bigint). */
export function bigIntBytes(fallback: TextParser): BytesParser {
  return (buf, start, end) => {
    const n = smallInteger(buf, start, end);
    return n !== undefined ? BigInt(n) : fallback(text(buf, start, end));
  };
}

/** bool (as `parseBool`: `t` or `true` is true). */
export function boolBytes(fallback: TextParser): BytesParser {
  return (buf, start, end) => {
    if (end - start === 1) return buf[start] === 116; /* t */
    return fallback(text(buf, start, end));
  };
}

/**
 * timestamp and timestamptz text with a 4-digit year AD and a time (`YYYY-MM-DD HH:MM:SS[.f]`, for
 * timestamptz ending in `+00`): the normalized form differs from it only in `T` for the space and
 * `Z` for `+00`, so those bytes are swapped in place, the string decoded once, and the bytes put
 * back (the buffer is left as it was). Anything else goes to the text parser.
 */
export function timestampBytes(fallback: TextParser, utc: boolean): BytesParser {
  return (buf, start, end) => {
    const n = end - start;
    const plain = n >= (utc ? 22 : 19) && buf[start + 4] === 45 /* - */ && buf[start + 10] === 32 /* space */ && buf[end - 1] !== 67; /* C of BC */
    if (!plain || (utc && (buf[end - 3] !== 43 /* + */ || buf[end - 2] !== 48 || buf[end - 1] !== 48))) return fallback(text(buf, start, end));
    buf[start + 10] = 84; /* T */
    if (!utc) {
      const s = text(buf, start, end);
      buf[start + 10] = 32;
      return s;
    }
    buf[end - 3] = 90; /* Z */
    const s = text(buf, start, end - 2);
    buf[start + 10] = 32;
    buf[end - 3] = 43;
    return s;
  };
}
