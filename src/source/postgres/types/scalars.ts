import type { Value } from '../../../core/change';

/**
 * Parsers for scalar values in PostgreSQL's text output format. Each takes the exact text the
 * server sent (never NULL: the decoder handles NULL) and returns the JS form documented on
 * `ValueKind` (src/core/change.ts) without losing precision.
 */

export type TextParser = (text: string) => Value;

/** text, varchar, bpchar, name, uuid, enums, numeric, json, time, interval, unknown types. */
export const parseText: TextParser = (text) => text;

export const parseBool: TextParser = (text) => text === 't' || text === 'true';

/** int2, int4, oid: always within the safe integer range. */
export const parseSmallInt: TextParser = (text) => Number(text);

/**
 * int8 → bigint (exact over the whole range). Up to 15 characters the value is below 2^53, where
 * going through a number is exact and ~2.5x faster than parsing the string as a bigint.
 */
export const parseBigInt: TextParser = (text) => (text.length < 16 ? BigInt(+text) : BigInt(text));

/** float4/float8: `NaN`, `Infinity`, `-Infinity` parse to the JS values of the same name. */
export const parseFloat: TextParser = (text) => Number(text);

/** bytea in hex output (`\x00ff`), with the legacy escape format as a fallback. */
export const parseBytea: TextParser = (text) => {
  if (text.charCodeAt(0) === 92 /* \ */ && text.charCodeAt(1) === 120 /* x */) return Buffer.from(text.slice(2), 'hex');
  return decodeEscapedBytea(text);
};

function decodeEscapedBytea(text: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 92) {
      out.push(c);
    } else if (text.charCodeAt(i + 1) === 92) {
      out.push(92);
      i++;
    } else {
      out.push(parseInt(text.slice(i + 1, i + 4), 8));
      i += 3;
    }
  }
  return Buffer.from(out);
}
