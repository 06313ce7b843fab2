/**
 * The normalized text forms of PostgreSQL dates and timestamps used in `Change` values, and exact
 * conversions to and from epoch-based integers (for Arrow, Avro, Parquet and proto).
 *
 * Forms (ISO 8601, astronomical year numbering: 1 BC is year 0000, 2 BC is -000001):
 * - date:        `YYYY-MM-DD`
 * - timestamp:   `YYYY-MM-DDTHH:MM:SS[.ffffff]`         (no zone)
 * - timestamptz: `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`        (UTC)
 * Years 0..9999 have 4 digits; others a sign and 6 digits (`+010000`, `-000043`), like JS `toISOString`.
 * The fraction has 1 to 6 digits, trailing zeros removed, and is absent when zero.
 * `infinity` and `-infinity` are kept as those words.
 */

const MICROS_PER_DAY = 86_400_000_000n;

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** Days from 1970-01-01 to the civil date (proleptic Gregorian), exact for any year. */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const mp = (m + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export function civilFromDays(days: number): { y: number; m: number; d: number } {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return { y: era * 400 + yoe + (m <= 2 ? 1 : 0), m, d };
}

export function formatYear(y: number): string {
  if (y >= 0 && y <= 9999) return String(y).padStart(4, '0');
  return (y < 0 ? '-' : '+') + String(Math.abs(y)).padStart(6, '0');
}

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

const DATE_RE = /^([+-]\d{6}|\d{4})-(\d{2})-(\d{2})$/;
const TS_RE = /^([+-]\d{6}|\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z?)$/;

/** `YYYY-MM-DD` → days since 1970-01-01. Throws on `infinity` (no integer form). */
export function dateToEpochDays(text: string): number {
  const m = DATE_RE.exec(text);
  if (!m) throw new Error(`not a normalized date: ${text}`);
  return daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
}

export function epochDaysToDate(days: number): string {
  const { y, m, d } = civilFromDays(days);
  return `${formatYear(y)}-${pad2(m)}-${pad2(d)}`;
}

/** Normalized timestamp/timestamptz text → microseconds since 1970-01-01T00:00:00 (UTC for timestamptz). */
export function timestampToEpochMicros(text: string): bigint {
  const m = TS_RE.exec(text);
  if (!m) throw new Error(`not a normalized timestamp: ${text}`);
  const days = daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
  const secs = Number(m[4]) * 3600 + Number(m[5]) * 60 + Number(m[6]);
  const frac = m[7] ? BigInt(m[7].padEnd(6, '0')) : 0n;
  return BigInt(days) * MICROS_PER_DAY + BigInt(secs) * 1_000_000n + frac;
}

/** Microseconds since the epoch → normalized text; `utc` adds the `Z` of timestamptz. */
export function epochMicrosToTimestamp(micros: bigint, utc: boolean): string {
  const days = floorDiv(micros, MICROS_PER_DAY);
  let rest = micros - days * MICROS_PER_DAY;
  const frac = Number(rest % 1_000_000n);
  rest /= 1_000_000n;
  const secs = Number(rest);
  const date = epochDaysToDate(Number(days));
  const hh = Math.floor(secs / 3600);
  const mm = Math.floor((secs % 3600) / 60);
  const ss = secs % 60;
  const fracText = frac === 0 ? '' : '.' + String(frac).padStart(6, '0').replace(/0+$/, '');
  return `${date}T${pad2(hh)}:${pad2(mm)}:${pad2(ss)}${fracText}${utc ? 'Z' : ''}`;
}

export function isInfinity(text: string): boolean {
  return text === 'infinity' || text === '-infinity';
}
