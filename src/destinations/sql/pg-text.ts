import { daysFromCivil } from '../../core/time';

/**
 * Exact parsers for the text forms that `Change` values use for temporal and decimal types (see
 * `ValueKind` and src/core/time.ts), into the integers warehouses store. Each returns undefined on
 * text it does not recognize; callers turn that into an error naming the column.
 */

const MICROS_PER_DAY = 86_400_000_000n;
const MICROS_PER_SECOND = 1_000_000n;

/** `±infinity`, for dates and timestamps. */
export type Infinite = 'infinity' | '-infinity';

function infinite(text: string): Infinite | undefined {
  const t = text.trim().toLowerCase();
  return t === 'infinity' || t === '+infinity' ? 'infinity' : t === '-infinity' ? '-infinity' : undefined;
}

/** Astronomical year: `YYYY`/`±YYYYYY` as is; `YYYY ... BC` becomes 1 - YYYY. */
function year(text: string, bc: boolean): number {
  const y = Number(text);
  return bc ? 1 - y : y;
}

function fractionMicros(frac: string | undefined): bigint {
  return frac ? BigInt(frac.slice(0, 6).padEnd(6, '0')) : 0n;
}

/** The number of the ASCII digits text[from..to), or -1 when one is not a digit. */
function digits(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** Days since 1970-01-01 of `YYYY-MM-DD` at the start of `text`, or undefined when it is not that. */
function isoDateDays(text: string): number | undefined {
  if (text.charCodeAt(4) !== 45 /* - */ || text.charCodeAt(7) !== 45) return undefined;
  const y = digits(text, 0, 4);
  const m = digits(text, 5, 7);
  const d = digits(text, 8, 10);
  return (y | m | d) < 0 ? undefined : daysFromCivil(y, m, d);
}

/** Days within which `days × 86400 × 10^6` plus a day's microseconds stays below 2^53 (exact as a double). */
const SAFE_DAYS = 100_000;
/** Microseconds per unit of the last digit of a fraction with 1..6 digits. */
const FRACTION_UNIT = [0, 100_000, 10_000, 1_000, 100, 10, 1];

/**
 * The common form `YYYY-MM-DD[T ]HH:MM:SS[.f{1,6}][Z]` (4-digit year, UTC or no zone) within
 * ±{@link SAFE_DAYS} days of 1970, computed exactly in doubles; undefined for anything else (the
 * general parser decides). Gives the same result as the general parser for every text it accepts.
 */
function fastTimestampMicros(text: string): bigint | undefined {
  let n = text.length;
  if (n < 19 || n > 27) return undefined;
  const sep = text.charCodeAt(10);
  if ((sep !== 84 /* T */ && sep !== 32) || text.charCodeAt(13) !== 58 /* : */ || text.charCodeAt(16) !== 58) return undefined;
  if (text.charCodeAt(n - 1) === 90 /* Z */) n--;
  let frac = 0;
  if (n > 19) {
    if (text.charCodeAt(19) !== 46 /* . */ || n < 21 || n > 26) return undefined;
    frac = digits(text, 20, n);
    if (frac < 0) return undefined;
    frac *= FRACTION_UNIT[n - 20]!;
  }
  const days = isoDateDays(text);
  const h = digits(text, 11, 13);
  const m = digits(text, 14, 16);
  const s = digits(text, 17, 19);
  if (days === undefined || (h | m | s) < 0 || days <= -SAFE_DAYS || days >= SAFE_DAYS) return undefined;
  return BigInt(days * 86_400_000_000 + (h * 3600 + m * 60 + s) * 1_000_000 + frac);
}

const DATE = /^([+-]\d{4,}|\d{4,})-(\d{2})-(\d{2})( BC)?$/;

/** A date (`YYYY-MM-DD`, `-000043-03-15`, `0044-03-15 BC`) → days since 1970-01-01. */
export function parseDateDays(text: string): number | Infinite | undefined {
  if (text.length === 10) {
    const days = isoDateDays(text);
    if (days !== undefined) return days;
  }
  const inf = infinite(text);
  if (inf) return inf;
  const m = DATE.exec(text.trim());
  if (!m) return undefined;
  return daysFromCivil(year(m[1]!, m[4] !== undefined), Number(m[2]), Number(m[3]));
}

const TIMESTAMP = /^([+-]\d{4,}|\d{4,})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?( BC)?$/;

/**
 * A timestamp (`YYYY-MM-DDTHH:MM:SS[.ffffff]`, with `Z` or an offset for timestamptz, ` BC` or a
 * signed 6-digit year) → microseconds since 1970-01-01T00:00:00 (UTC when an offset is given).
 */
export function parseTimestampMicros(text: string): bigint | Infinite | undefined {
  const fast = fastTimestampMicros(text);
  if (fast !== undefined) return fast;
  const inf = infinite(text);
  if (inf) return inf;
  const m = TIMESTAMP.exec(text.trim());
  if (!m) return undefined;
  const days = daysFromCivil(year(m[1]!, m[9] !== undefined), Number(m[2]), Number(m[3]));
  const secs = Number(m[4]) * 3600 + Number(m[5]) * 60 + Number(m[6]);
  const offset = m[8] && m[8] !== 'Z' ? offsetSeconds(m[8]) : 0;
  return BigInt(days) * MICROS_PER_DAY + BigInt(secs - offset) * MICROS_PER_SECOND + fractionMicros(m[7]);
}

/** `+05`, `-03:30`, `+0530`, `+05:30:15` → seconds east of UTC. */
function offsetSeconds(text: string): number {
  const sign = text[0] === '-' ? -1 : 1;
  const digits = text.slice(1).replace(/:/g, '');
  const h = Number(digits.slice(0, 2));
  const m = Number(digits.slice(2, 4) || '0');
  const s = Number(digits.slice(4, 6) || '0');
  return sign * (h * 3600 + m * 60 + s);
}

const TIME = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/;
const TIMETZ = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)$/;

/** `HH:MM:SS[.ffffff]` (up to `24:00:00`) → microseconds since midnight. */
export function parseTimeMicros(text: string): bigint | undefined {
  const m = TIME.exec(text.trim());
  if (!m) return undefined;
  return timeOfDay(m[1]!, m[2]!, m[3]!, m[4]);
}

/** `HH:MM:SS[.ffffff]±HH[:MM[:SS]]` → microseconds since midnight and the offset in seconds east of UTC. */
export function parseTimeTz(text: string): { micros: bigint; offsetSeconds: number } | undefined {
  const m = TIMETZ.exec(text.trim());
  if (!m) return undefined;
  return { micros: timeOfDay(m[1]!, m[2]!, m[3]!, m[4]), offsetSeconds: offsetSeconds(m[5]!) };
}

function timeOfDay(h: string, m: string, s: string, frac: string | undefined): bigint {
  return BigInt(Number(h) * 3600 + Number(m) * 60 + Number(s)) * MICROS_PER_SECOND + fractionMicros(frac);
}

/** An interval as PostgreSQL stores it: months, days and microseconds, each with its own sign. */
export interface IntervalParts {
  months: number;
  days: number;
  micros: bigint;
}

const UNIT_TOKEN = /^([+-]?\d+(?:\.\d+)?)\s*(years?|mons?|months?|days?|hours?|mins?|minutes?|secs?|seconds?)$/i;
const CLOCK_TOKEN = /^([+-]?)(\d+):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$/;
const ISO = /^P(?:([+-]?\d+)Y)?(?:([+-]?\d+)M)?(?:([+-]?\d+)W)?(?:([+-]?\d+)D)?(?:T(?:([+-]?\d+)H)?(?:([+-]?\d+)M)?(?:([+-]?\d+(?:\.\d+)?)S)?)?$/;

/**
 * An interval in PostgreSQL's `postgres` output style (`1 year 2 mons -3 days +04:05:06.789`),
 * `postgres_verbose` (`@ 1 year 2 mons 3 secs ago`) or `iso_8601` (`P1Y2M3DT4H5M6.789S`).
 */
export function parseInterval(text: string): IntervalParts | undefined {
  const t = text.trim();
  if (t.startsWith('P')) return parseIsoInterval(t);
  let body = t.startsWith('@') ? t.slice(1).trim() : t;
  let negate = false;
  if (/\sago$/i.test(body)) {
    negate = true;
    body = body.replace(/\s+ago$/i, '');
  }
  const parts: IntervalParts = { months: 0, days: 0, micros: 0n };
  const words = body.split(/\s+/).filter((w) => w !== '');
  for (let i = 0; i < words.length; i++) {
    const clock = CLOCK_TOKEN.exec(words[i]!);
    if (clock) {
      const sign = clock[1] === '-' ? -1n : 1n;
      const secs = BigInt(Number(clock[2]) * 3600 + Number(clock[3]) * 60 + Number(clock[4] ?? '0'));
      parts.micros += sign * (secs * MICROS_PER_SECOND + fractionMicros(clock[5]));
      continue;
    }
    const unit = UNIT_TOKEN.exec(`${words[i]} ${words[i + 1] ?? ''}`);
    if (!unit) return undefined;
    i++;
    if (!addUnit(parts, unit[1]!, unit[2]!.toLowerCase())) return undefined;
  }
  if (words.length === 0) return undefined;
  return negate ? { months: -parts.months, days: -parts.days, micros: -parts.micros } : parts;
}

function addUnit(parts: IntervalParts, amount: string, unit: string): boolean {
  const whole = !amount.includes('.');
  if (unit.startsWith('year')) {
    if (!whole) return false;
    parts.months += Number(amount) * 12;
  } else if (unit.startsWith('mon')) {
    if (!whole) return false;
    parts.months += Number(amount);
  } else if (unit.startsWith('day')) {
    if (!whole) return false;
    parts.days += Number(amount);
  } else {
    const perUnit = unit.startsWith('hour') ? 3600n : unit.startsWith('min') ? 60n : 1n;
    parts.micros += decimalMicros(amount) * perUnit;
  }
  return true;
}

/** `-6.789` seconds → microseconds, exactly. */
function decimalMicros(amount: string): bigint {
  const neg = amount.startsWith('-');
  const [int, frac] = amount.replace(/^[+-]/, '').split('.');
  const v = BigInt(int!) * MICROS_PER_SECOND + fractionMicros(frac);
  return neg ? -v : v;
}

function parseIsoInterval(t: string): IntervalParts | undefined {
  const m = ISO.exec(t);
  if (!m || t === 'P' || t.endsWith('T')) return undefined;
  const n = (i: number): number => Number(m[i] ?? '0');
  const micros = BigInt(n(5)) * 3600n * MICROS_PER_SECOND + BigInt(n(6)) * 60n * MICROS_PER_SECOND + decimalMicros(m[7] ?? '0');
  return { months: n(1) * 12 + n(2), days: n(3) * 7 + n(4), micros };
}

/**
 * An exact decimal text (`-123.4500`) → the integer `value × 10^scale`, or undefined when the
 * text is not a plain decimal or has non-zero digits beyond `scale` (rounding would lose them).
 */
export function parseScaledDecimal(text: string, scale: number): bigint | undefined {
  const fast = fastScaledDecimal(text, scale);
  if (fast !== undefined) return fast;
  const m = /^([+-])?(\d*)(?:\.(\d*))?$/.exec(text.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  let frac = m[3] ?? '';
  if (frac.length > scale) {
    if (/[^0]/.test(frac.slice(scale))) return undefined;
    frac = frac.slice(0, scale);
  }
  const digits = (m[2] || '0') + frac.padEnd(scale, '0');
  const v = BigInt(digits);
  return m[1] === '-' ? -v : v;
}

/**
 * `[-]digits[.digits]` with at most `scale` fractional digits and at most 15 digits in all (so the
 * scaled integer is exact as a double); undefined for anything else (the general parser decides).
 */
function fastScaledDecimal(text: string, scale: number): bigint | undefined {
  const n = text.length;
  let i = text.charCodeAt(0) === 45 /* - */ ? 1 : 0;
  const start = i;
  let v = 0;
  let c = 0;
  for (; i < n; i++) {
    c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
  }
  const intDigits = i - start;
  let places = 0;
  if (i < n) {
    if (c !== -2 /* . */) return undefined;
    for (i++; i < n; i++, places++) {
      c = text.charCodeAt(i) - 48;
      if (c < 0 || c > 9) return undefined;
      v = v * 10 + c;
    }
  }
  if (intDigits === 0 || places > scale || intDigits + scale > 15) return undefined;
  v *= 10 ** (scale - places);
  return BigInt(start === 1 ? -v : v);
}
