import type { Value } from '../../core/change';
import { epochDaysToDate, epochMicrosToTimestamp } from '../../core/time';
import { parseDateDays, parseTimestampMicros } from '../sql/pg-text';
import { valueToText } from '../sql/text-values';
import type { LogicalType } from '../sql/types';

/** Turns one `Change` value into the text a raw-table column holds (NULL as null); throws a plain Error on bad input. */
export type TextConverter = (v: Value) => string | null;

/**
 * The text form, per logical type, that the MERGE turns back into the column's type with
 * `fromText` (dialect.ts): decimal digits as they are, booleans `true`/`false`, bytes as hex,
 * floats with `NaN`/`inf`/`-inf`, dates `YYYY-MM-DD`, timestamps ISO with microseconds (UTC offset
 * for timestamptz), arrays and json as JSON text. ±infinity dates and timestamps pass as
 * `infinity`/`-infinity`, which Snowflake's DATE/TIMESTAMP reject: map such columns to VARCHAR with
 * `type_mappings` (docs/usage.md).
 */
export function textConverter(t: LogicalType): TextConverter {
  const f = scalar(t);
  return (v) => (v === null || v === undefined ? null : f(v));
}

function scalar(t: LogicalType): (v: Exclude<Value, null>) => string {
  switch (t.kind) {
    case 'boolean':
      return (v) => (typeof v === 'boolean' ? String(v) : ['t', 'true', '1', 'yes', 'on'].includes(String(v).toLowerCase()) ? 'true' : 'false');
    case 'real':
    case 'double':
      return (v) => {
        const n = typeof v === 'number' ? v : Number(String(v));
        if (Number.isNaN(n)) return 'NaN';
        if (n === Infinity) return 'inf';
        if (n === -Infinity) return '-inf';
        return Object.is(n, -0) ? '-0' : String(n);
      };
    case 'blob':
      return (v) => (Buffer.isBuffer(v) ? v.toString('hex') : hexOfText(String(v)));
    case 'date':
      return (v) => {
        const days = parseDateDays(String(v));
        if (days === undefined) throw new Error(`"${String(v)}" is not a date`);
        return typeof days === 'number' ? epochDaysToDate(days) : days;
      };
    case 'timestamp':
    case 'timestamptz': {
      const utc = t.kind === 'timestamptz';
      return (v) => {
        const micros = typeof v === 'bigint' ? v : parseTimestampMicros(String(v));
        if (micros === undefined) throw new Error(`"${String(v)}" is not a timestamp`);
        if (typeof micros === 'string') return micros;
        return epochMicrosToTimestamp(micros, false) + (utc ? '+00:00' : '');
      };
    }
    default:
      return (v) => (typeof v === 'string' ? v : valueToText(v)!);
  }
}

/** PostgreSQL's `\x0a0b` text of a bytea → hex; any other text → the hex of its UTF-8 bytes. */
function hexOfText(s: string): string {
  return s.startsWith('\\x') ? s.slice(2).toLowerCase() : Buffer.from(s, 'utf8').toString('hex');
}

/**
 * One CSV record in the file format the raw load declares (`FIELD_OPTIONALLY_ENCLOSED_BY = '"'`,
 * `EMPTY_FIELD_AS_NULL = TRUE`, `NULL_IF = ()`): every value quoted with `"` doubled, NULL as an
 * empty unquoted field, so an empty string and NULL stay distinct.
 */
export function csvRecord(values: (string | null)[]): string {
  let out = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    if (v !== null && v !== undefined) out += '"' + v.replace(/"/g, '""') + '"';
  }
  return out + '\n';
}
