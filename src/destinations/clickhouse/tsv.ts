import type { Value } from '../../core/change';
import { DuctError } from '../../core/errors';
import { epochDaysToDate, epochMicrosToTimestamp } from '../../core/time';
import { parseDateDays, parseScaledDecimal, parseTimestampMicros } from '../sql/pg-text';
import { valueToText } from '../sql/text-values';
import { describeLogicalType, type LogicalType } from '../sql/types';

/**
 * ClickHouse's TabSeparated input, written exactly: each value becomes the text of one field.
 * Strings escape backslash, tab, newline, CR and NUL; bytes outside printable ASCII are written as
 * `\xHH`, so binary values survive any transport byte for byte. Array fields use ClickHouse's
 * quoted element syntax (`['a',NULL]`). Values ClickHouse cannot hold exactly (a date outside
 * Date32, a numeric NaN in a Decimal column, more digits than the column has) throw instead of
 * being clamped or rounded.
 */
export type FieldEncoder = (v: Value) => string;

export const TSV_NULL = '\\N';

/** Date32 and DateTime64 cover 1900-01-01 to 2299-12-31. */
const MIN_DAYS = -25_567;
const MAX_DAYS = 120_529;
const MICROS_PER_DAY = 86_400_000_000n;
const MIN_MICROS = BigInt(MIN_DAYS) * MICROS_PER_DAY;
const MAX_MICROS = BigInt(MAX_DAYS + 1) * MICROS_PER_DAY - 1n;

const HEX = '0123456789ABCDEF';

/** Escapes text for a TSV field (`quote` also escapes `'`, inside a quoted array element). */
export function escapeText(s: string, quote = false): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | undefined;
    if (c === 92) rep = '\\\\';
    else if (c === 9) rep = '\\t';
    else if (c === 10) rep = '\\n';
    else if (c === 13) rep = '\\r';
    else if (c === 0) rep = '\\0';
    else if (quote && c === 39) rep = "\\'";
    if (rep !== undefined) {
      out += s.slice(from, i) + rep;
      from = i + 1;
    }
  }
  return from === 0 ? s : out + s.slice(from);
}

/** Bytes as a TSV string field: printable ASCII as is, everything else `\xHH`. */
export function escapeBytes(b: Buffer, quote = false): string {
  let out = '';
  for (const c of b) {
    if (c >= 32 && c < 127 && c !== 92 && !(quote && c === 39)) out += String.fromCharCode(c);
    else out += '\\x' + HEX[c >> 4]! + HEX[c & 15]!;
  }
  return out;
}

/** The encoder of a column loaded as `type` (TSV field text, `\N` for NULL). */
export function fieldEncoder(type: LogicalType): FieldEncoder {
  const scalar = scalarText(type, false);
  return (v) => (v === null || v === undefined ? TSV_NULL : scalar(v));
}

/** A ClickHouse SQL literal of a non-null value of `type` (keys in `IN (...)` lists). */
export function literalEncoder(type: LogicalType): (v: Exclude<Value, null>) => string {
  return scalarText(type, true);
}

/** The text a TSV field stands for (the inverse of {@link escapeText}); `\N` stays as is. */
export function unescapeField(field: string): string {
  if (!field.includes('\\') || field === TSV_NULL) return field;
  return field.replace(/\\(x[0-9A-Fa-f]{2}|.)/g, (_m, c: string) => {
    if (c.length === 3) return String.fromCharCode(parseInt(c.slice(1), 16));
    return UNESCAPE[c] ?? c;
  });
}

const UNESCAPE: Record<string, string> = { t: '\t', n: '\n', r: '\r', '0': '\0', b: '\b', f: '\f' };

/** Text of one non-null value; `quoted` gives the array-element form (strings in single quotes). */
function scalarText(type: LogicalType, quoted: boolean): (v: Exclude<Value, null>) => string {
  const q = (s: string): string => (quoted ? `'${s}'` : s);
  switch (type.kind) {
    case 'boolean':
      return (v) => (typeof v === 'boolean' ? String(v) : parseBool(String(v)));
    case 'smallint':
    case 'integer':
    case 'bigint':
    case 'lsn':
      return (v) => integerText(v);
    case 'real':
    case 'double':
      return (v) => floatText(typeof v === 'number' ? v : Number(String(v)));
    case 'decimal':
      return decimalText(type.precision, type.scale);
    case 'blob':
      return (v) => q(Buffer.isBuffer(v) ? escapeBytes(v, quoted) : escapeText(String(v), quoted));
    case 'uuid':
      return (v) => q(String(v));
    case 'date':
      return (v) => q(dateText(v));
    case 'timestamp':
    case 'timestamptz':
      return (v) => q(timestampText(v));
    case 'list': {
      const element = scalarText(type.element, true);
      return (v) => {
        if (!Array.isArray(v)) throw new Error(`expected an array for ${describeLogicalType(type)}, got ${typeof v}`);
        if (type.element.kind !== 'list' && v.some(Array.isArray)) {
          throw new Error('multi-dimensional arrays do not fit a one-dimensional Array column; map the type to String with type_mappings');
        }
        return '[' + v.map((e) => (e === null ? 'NULL' : element(e))).join(',') + ']';
      };
    }
    default:
      // text, json, time, timetz, interval: PostgreSQL's text.
      return (v) => q(escapeText(typeof v === 'string' ? v : valueToText(v)!, quoted));
  }
}

function parseBool(s: string): string {
  const l = s.toLowerCase();
  if (l === 't' || l === 'true') return 'true';
  if (l === 'f' || l === 'false') return 'false';
  throw new Error(`"${s}" is not a boolean`);
}

function integerText(v: Exclude<Value, null>): string {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`${v} is not an integer`);
    if (Number.isSafeInteger(v)) return String(v);
  }
  const s = String(v);
  if (!/^-?\d+$/.test(s)) throw new Error(`"${s}" is not an integer`);
  return s;
}

function floatText(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  return Object.is(n, -0) ? '-0' : String(n);
}

function decimalText(precision: number, scale: number): (v: Exclude<Value, null>) => string {
  const limit = 10n ** BigInt(precision);
  return (v) => {
    const text = String(v);
    if (isCanonicalDecimal(text, precision, scale)) return text;
    const scaled = parseScaledDecimal(text, scale);
    if (scaled === undefined) throw new Error(`"${text}" does not fit Decimal(${precision}, ${scale}) exactly; map the column to String with type_mappings`);
    if (scaled >= limit || scaled <= -limit) throw new Error(`"${text}" has more than ${precision} digits (Decimal(${precision}, ${scale}))`);
    const sign = scaled < 0n ? '-' : '';
    const digits = (scaled < 0n ? -scaled : scaled).toString().padStart(scale + 1, '0');
    return scale === 0 ? sign + digits : `${sign}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  };
}

/**
 * True when `text` is already what {@link decimalText} makes of it, so no BigInt is needed: PostgreSQL's
 * text of a `numeric(p,s)` value, `[-]int.frac` with no leading zero, exactly `scale` fraction digits
 * and at most `precision - scale` integer digits. A negative value with a zero integer part takes the
 * general path (it may be a negative zero, written without its sign).
 */
export function isCanonicalDecimal(text: string, precision: number, scale: number): boolean {
  const n = text.length;
  const neg = text.charCodeAt(0) === 45; /* - */
  let i = neg ? 1 : 0;
  const start = i;
  while (i < n && isDigit(text.charCodeAt(i))) i++;
  const intDigits = i - start;
  if (intDigits === 0 || intDigits > precision - scale) return false;
  if (text.charCodeAt(start) === 48 /* 0 */ && (intDigits > 1 || neg)) return false;
  if (scale === 0) return i === n;
  if (text.charCodeAt(i) !== 46 /* . */ || n - i - 1 !== scale) return false;
  for (i++; i < n; i++) if (!isDigit(text.charCodeAt(i))) return false;
  return true;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function dateText(v: Exclude<Value, null>): string {
  const days = parseDateDays(String(v));
  if (days === undefined) throw new Error(`"${String(v)}" is not a date`);
  if (typeof days !== 'number' || days < MIN_DAYS || days > MAX_DAYS) {
    throw new Error(`"${String(v)}" is outside ClickHouse's Date32 range (1900-01-01 to 2299-12-31); map the column to String with type_mappings to keep it`);
  }
  return epochDaysToDate(days);
}

/** PostgreSQL's text of a timestamp in years 1900–2299 (in range), as the source sends it (UTC for timestamptz). */
const PLAIN_TIMESTAMP = /^(19\d\d|2[0-2]\d\d)-(\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z?$/;
/** The last metadata time converted (a transaction's changes share their commit time). */
let lastMicros: bigint | undefined;
let lastMicrosText = '';

/** `YYYY-MM-DD hh:mm:ss.ffffff` in UTC; a bigint is already epoch microseconds (metadata times). */
export function timestampText(v: Exclude<Value, null>): string {
  if (typeof v === 'string') {
    // The common case, rewritten without parsing (the same text the general path makes).
    const m = PLAIN_TIMESTAMP.exec(v);
    if (m) return `${m[1]}-${m[2]} ${m[3]}.${(m[4] ?? '').padEnd(6, '0')}`;
  } else if (typeof v === 'bigint' && v === lastMicros) return lastMicrosText;
  const text = generalTimestampText(v);
  if (typeof v === 'bigint') {
    lastMicros = v;
    lastMicrosText = text;
  }
  return text;
}

function generalTimestampText(v: Exclude<Value, null>): string {
  const micros = typeof v === 'bigint' ? v : parseTimestampMicros(String(v));
  if (micros === undefined) throw new Error(`"${String(v)}" is not a timestamp`);
  if (typeof micros !== 'bigint' || micros < MIN_MICROS || micros > MAX_MICROS) {
    throw new Error(
      `"${String(v)}" is outside ClickHouse's DateTime64 range (1900-01-01 to 2299-12-31); map the column to String with type_mappings to keep it`,
    );
  }
  const text = epochMicrosToTimestamp(micros, false);
  const [date, time] = text.split('T') as [string, string];
  const [hms, frac = ''] = time.split('.');
  return `${date} ${hms}.${frac.padEnd(6, '0')}`;
}

/** Wraps a conversion failure as a permanent DuctError naming the column. */
export function conversionError(column: string, type: LogicalType, e: unknown): DuctError {
  return new DuctError('destination_failed', `column "${column}" (${describeLogicalType(type)}): ${(e as Error).message}`, { retry: 'never', cause: e });
}
