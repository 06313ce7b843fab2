import type { Value } from '../../core/change';

/**
 * The text form of any `Change` value, for columns loaded as text (numerics wider than the
 * destination's DECIMAL, `type_mappings` overrides): strings as they are, numbers and bigints in
 * decimal, booleans as `true`/`false`, bytes as PostgreSQL's `\x` hex, arrays as JSON arrays
 * (integers as JSON numbers, exact even beyond 2^53; text, numerics and temporal values as JSON strings).
 */
export function valueToText(v: Value): string | null {
  if (v === null) return null;
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return '\\x' + v.toString('hex');
  if (Array.isArray(v)) return arrayToJson(v);
  return String(v);
}

function arrayToJson(items: Value[]): string {
  return '[' + items.map(elementToJson).join(',') + ']';
}

function elementToJson(v: Value): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return arrayToJson(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : JSON.stringify(String(v));
  if (typeof v === 'boolean') return String(v);
  if (Buffer.isBuffer(v)) return JSON.stringify('\\x' + v.toString('hex'));
  return JSON.stringify(v);
}
