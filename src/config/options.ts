import { invalidArgument } from '../core/errors';

/** Connector options as they arrive in flow JSON and proto: every value a string. */
export type OptionMap = Record<string, string>;

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * The longest duration any option may have: Node timers (setTimeout, socket timeouts) hold at
 * most 2^31−1 ms (~24.8 days); a longer value fires at once. Every duration is bounded by it.
 */
export const MAX_DURATION_MS = 2_147_483_647;

/**
 * Reads a connector's string options into typed values, one key at a time, with the defaults the
 * caller gives. Every error names the full field path (e.g. `source.options.batch_size`) and the fix.
 * Call {@link OptionReader.rejectUnknown} last so that a misspelt option is an error, not ignored.
 */
export class OptionReader {
  private readonly seen = new Set<string>();

  constructor(
    private readonly options: OptionMap,
    /** Field path prefix, e.g. `destinations[0].options`. */
    private readonly path: string,
  ) {}

  field(key: string): string {
    return `${this.path}.${key}`;
  }

  has(key: string): boolean {
    this.seen.add(key);
    const v = this.options[key];
    return v !== undefined && v.trim() !== '';
  }

  raw(key: string): string | undefined {
    this.seen.add(key);
    const v = this.options[key];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  string(key: string, fallback: string): string {
    return this.raw(key) ?? fallback;
  }

  optionalString(key: string): string | undefined {
    return this.raw(key);
  }

  required(key: string, fix: string): string {
    const v = this.raw(key);
    if (v === undefined) throw invalidArgument(this.field(key), 'is required', fix);
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    const l = v.toLowerCase();
    if (['true', '1', 'yes', 'on', 't'].includes(l)) return true;
    if (['false', '0', 'no', 'off', 'f'].includes(l)) return false;
    throw invalidArgument(this.field(key), `"${v}" is not a boolean`, 'use true or false');
  }

  int(key: string, fallback: number, bounds: { min?: number; max?: number } = {}): number {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    if (!/^-?\d+$/.test(v)) throw invalidArgument(this.field(key), `"${v}" is not an integer`, 'use a whole number, e.g. 100');
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw invalidArgument(this.field(key), `${v} is too large`, `use a whole number of at most ${Number.MAX_SAFE_INTEGER}`);
    checkBounds(this.field(key), n, bounds);
    return n;
  }

  number(key: string, fallback: number, bounds: { min?: number; max?: number } = {}): number {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n)) throw invalidArgument(this.field(key), `"${v}" is not a number`, 'use a number, e.g. 2 or 0.5');
    checkBounds(this.field(key), n, bounds);
    return n;
  }

  /**
   * A duration such as `1s`, `500ms`, `2m`, `1h`; a bare number is seconds. Returns milliseconds,
   * never more than {@link MAX_DURATION_MS} (a caller's `maxMs` above it is lowered to it).
   */
  durationMs(key: string, fallbackMs: number, bounds: { minMs?: number; maxMs?: number } = {}): number {
    const v = this.raw(key);
    if (v === undefined) return fallbackMs;
    const ms = parseDurationMs(v);
    if (ms === undefined) throw invalidArgument(this.field(key), `"${v}" is not a duration`, 'use e.g. 500ms, 1s, 2m or 1h');
    const maxMs = Math.min(bounds.maxMs ?? MAX_DURATION_MS, MAX_DURATION_MS);
    if (bounds.minMs !== undefined && ms < bounds.minMs) throw invalidArgument(this.field(key), `${v} is too short`, `use at least ${bounds.minMs}ms`);
    if (ms > maxMs) throw invalidArgument(this.field(key), `${v} is too long`, `use at most ${formatDurationMs(maxMs)}`);
    return ms;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    const l = v.toLowerCase();
    const hit = allowed.find((a) => a === l);
    if (!hit) throw invalidArgument(this.field(key), `"${v}" is not allowed`, `use one of: ${allowed.join(', ')}`);
    return hit;
  }

  /** A comma-separated list; empty entries are dropped. */
  list(key: string): string[] {
    const v = this.raw(key);
    if (v === undefined) return [];
    return v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }

  /** Marks keys as known without reading them (options parsed by a later feature). */
  accept(...keys: string[]): void {
    for (const k of keys) this.seen.add(k);
  }

  /** Throws on the first option that no reader asked for: a misspelt option is an error. */
  rejectUnknown(): void {
    const unknown = Object.keys(this.options).filter((k) => !this.seen.has(k));
    if (unknown.length > 0) {
      const known = [...this.seen].sort().join(', ');
      throw invalidArgument(this.field(unknown[0]!), 'is not a known option', `known options: ${known}`);
    }
  }
}

function checkBounds(field: string, n: number, b: { min?: number; max?: number }): void {
  if (b.min !== undefined && n < b.min) throw invalidArgument(field, `${n} is below the minimum`, `use a value >= ${b.min}`);
  if (b.max !== undefined && n > b.max) throw invalidArgument(field, `${n} is above the maximum`, `use a value <= ${b.max}`);
}

export function parseDurationMs(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2] ?? 's']!;
  return Number.isFinite(ms) ? ms : undefined;
}

/** `3600000` → `3600000ms (1h)`: the exact bound and a readable form. */
function formatDurationMs(ms: number): string {
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size) return `${ms}ms (${Math.floor((ms / size) * 10) / 10}${unit})`;
  }
  return `${ms}ms`;
}
