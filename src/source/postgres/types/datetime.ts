import { daysFromCivil, epochMicrosToTimestamp, formatYear } from '../../../core/time';

/**
 * PostgreSQL's ISO text (DateStyle=ISO, TimeZone=UTC, set on every connection) → the normalized
 * forms of src/core/time.ts:
 *   `2024-01-02`             → `2024-01-02`
 *   `0044-03-15 BC`          → `-000043-03-15` (astronomical year: 1 BC is 0000)
 *   `10000-01-01`            → `+010000-01-01`
 *   `2024-01-02 03:04:05.5`  → `2024-01-02T03:04:05.5`
 *   `2024-01-02 03:04:05+00` → `2024-01-02T03:04:05Z` (any other offset is converted to UTC)
 *   `infinity`, `-infinity`  → unchanged
 */

const GENERAL = /^(\d{4,})-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(\.\d{1,6})?)?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?( BC)?$/;

function isPlainYear(text: string): boolean {
  // Four-digit year, AD: the fast path. `text[4] === '-'` rules out years above 9999.
  return text.length >= 10 && text.charCodeAt(4) === 45 /* - */ && text.charCodeAt(text.length - 1) !== 67; /* C of BC */
}

function yearOf(digits: string, bc: boolean): number {
  const y = Number(digits);
  return bc ? 1 - y : y;
}

function fail(kind: string, text: string): never {
  throw new Error(`unexpected ${kind} text from the server: "${text}"`);
}

/** A `date` column's text. */
export function normalizeDate(text: string): string {
  if (text.length === 10 && isPlainYear(text)) return text;
  if (text === 'infinity' || text === '-infinity') return text;
  const m = GENERAL.exec(text);
  if (!m || m[4] !== undefined) return fail('date', text);
  return `${formatYear(yearOf(m[1]!, m[12] !== undefined))}-${m[2]}-${m[3]}`;
}

/** A `timestamp` (without time zone) column's text. */
export function normalizeTimestamp(text: string): string {
  if (isPlainYear(text) && text.length >= 19 && text.charCodeAt(10) === 32) {
    return text.slice(0, 10) + 'T' + text.slice(11);
  }
  if (text === 'infinity' || text === '-infinity') return text;
  const m = GENERAL.exec(text);
  if (!m || m[4] === undefined) return fail('timestamp', text);
  return `${formatYear(yearOf(m[1]!, m[12] !== undefined))}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ''}`;
}

/** A `timestamptz` column's text; the result is in UTC with a `Z`. */
export function normalizeTimestamptz(text: string): string {
  const n = text.length;
  // Fast path: `YYYY-MM-DD HH:MM:SS[.f]+00`.
  if (
    isPlainYear(text) &&
    n >= 22 &&
    text.charCodeAt(10) === 32 &&
    text.charCodeAt(n - 3) === 43 /* + */ &&
    text.charCodeAt(n - 2) === 48 &&
    text.charCodeAt(n - 1) === 48
  ) {
    return text.slice(0, 10) + 'T' + text.slice(11, n - 3) + 'Z';
  }
  if (text === 'infinity' || text === '-infinity') return text;
  const m = GENERAL.exec(text);
  if (!m || m[4] === undefined) return fail('timestamptz', text);
  const year = yearOf(m[1]!, m[12] !== undefined);
  const offsetSeconds = m[8] === undefined ? 0 : (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0));
  if (offsetSeconds === 0) return `${formatYear(year)}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ''}Z`;
  const days = daysFromCivil(year, Number(m[2]), Number(m[3]));
  const secs = Number(m[4]) * 3600 + Number(m[5]) * 60 + Number(m[6]) - offsetSeconds;
  const frac = m[7] ? BigInt(m[7].slice(1).padEnd(6, '0')) : 0n;
  return epochMicrosToTimestamp(BigInt(days) * 86_400_000_000n + BigInt(secs) * 1_000_000n + frac, true);
}
