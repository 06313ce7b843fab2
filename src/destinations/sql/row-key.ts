import type { Row, Value } from '../../core/change';

/**
 * A map key equal for rows with equal key values (and only for those), as cheap as possible: for a
 * one-column key, the value itself when it is a primitive (no string is built per row); for
 * composite keys, or values that are objects (bytea, arrays), a type-tagged string.
 *
 * Equal means: integers equal whatever their JS type (`1` and `1n`), strings equal as strings,
 * never an integer equal to a string or a boolean. JS `Map` compares primitives by value
 * (SameValueZero), which gives exactly that once safe bigints are numbers.
 */
export type KeyId = string | number | bigint | boolean | null;

/** Builds the {@link KeyId} of a row for a fixed list of key columns. */
export type KeyIdOf = (row: Row) => KeyId;

export function keyIdOf(key: readonly string[]): KeyIdOf {
  if (key.length === 1) {
    const k = key[0]!;
    return (row) => primitiveKey(row[k] ?? null);
  }
  return (row) => {
    let out = '';
    for (let i = 0; i < key.length; i++) out += (i > 0 ? '\u0001' : '') + taggedKey(row[key[i]!] ?? null);
    return out;
  };
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function primitiveKey(v: Value): KeyId {
  switch (typeof v) {
    case 'string':
      // Object keys below are strings starting with NUL; a text starting with NUL (PostgreSQL text
      // never does) gets one more so the two can never meet.
      return v.charCodeAt(0) === 0 ? '\u0000' + v : v;
    case 'number':
      return Number.isInteger(v) && !Number.isSafeInteger(v) ? BigInt(v) : v;
    case 'bigint':
      return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v;
    case 'boolean':
      return v;
    default:
      return v === null ? null : '\u0000' + taggedKey(v);
  }
}

/**
 * A string equal for equal values: type-tagged, so 1 (int) and '1' (text) differ, and texts
 * length-prefixed, so joined keys can be split only one way (`a\u0001b` + `c` ≠ `a` + `b\u0001c`).
 */
function taggedKey(v: Value): string {
  switch (typeof v) {
    case 'bigint':
    case 'number':
      return 'i' + String(v);
    case 'string':
      return 's' + v.length + ':' + v;
    case 'boolean':
      return v ? 'T' : 'F';
    default:
      if (v === null) return 'n';
      if (Buffer.isBuffer(v)) return 'x' + v.toString('hex');
      if (Array.isArray(v)) return '[' + v.map(taggedKey).join(',') + ']';
      return 'o' + String(v);
  }
}
