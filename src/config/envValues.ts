import { invalidArgument } from '../core/errors';
import type { LogLevel } from '../core/log';

/*
 * How environment values are read: each takes the environment to read from (src/config/env.ts
 * passes the process's environment, tests a map of their own) and throws a bad-input error naming the variable and the fix.
 * An empty or blank value counts as unset.
 */

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export function logLevel(env: NodeJS.ProcessEnv, name: string, fallback: LogLevel): LogLevel {
  const v = env[name]?.trim().toLowerCase();
  if (!v) return fallback;
  const level = LOG_LEVELS.find((l) => l === v);
  if (!level) throw invalidArgument(name, `"${v}" is not a log level`, `use one of: ${LOG_LEVELS.join(', ')}`);
  return level;
}

export function otlpEndpoint(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name]?.trim();
  if (!v) return undefined;
  if (!/^https?:\/\/[^/\s]+/.test(v)) throw invalidArgument(name, `"${v}" is not an http(s) URL`, 'use e.g. http://localhost:4318/v1/traces');
  return v;
}

export function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = env[name]?.trim();
  if (v === undefined || v === '') return fallback;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw invalidArgument(name, `"${v}" is not a positive whole number`, `use e.g. ${fallback}`);
  return Number(v);
}

export function nonNegativeInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = env[name]?.trim();
  if (v === undefined || v === '') return fallback;
  if (!/^\d{1,9}$/.test(v)) throw invalidArgument(name, `"${v}" is not a whole number`, `use e.g. ${fallback}`);
  return Number(v);
}

/** A duration in whole seconds, returned in ms. */
export function seconds(env: NodeJS.ProcessEnv, name: string, fallbackMs: number): number {
  const v = env[name]?.trim();
  if (v === undefined || v === '') return fallbackMs;
  if (!/^\d{1,6}$/.test(v) || Number(v) < 1) throw invalidArgument(name, `"${v}" is not a number of seconds`, `use 1 to 999999, e.g. ${fallbackMs / 1000}`);
  return Number(v) * 1000;
}

export function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const v = env[name]?.trim();
  if (v === undefined || v === '') return fallback;
  if (/^(true|1|yes|on)$/i.test(v)) return true;
  if (/^(false|0|no|off)$/i.test(v)) return false;
  throw invalidArgument(name, `"${v}" is not a boolean`, 'use true or false');
}

const CRON_FIELD = /^[0-9*/,\-A-Za-z?LW#]+$/;

/** Checks a cron expression has 5 or 6 plausible fields; DBOS parses it fully at apply time. */
export function validateCron(expr: string, field: string): string {
  const parts = expr.trim().split(/\s+/);
  if ((parts.length !== 6 && parts.length !== 5) || !parts.every((p) => CRON_FIELD.test(p))) {
    throw invalidArgument(field, `"${expr}" is not a cron expression`, 'use 6 fields with seconds, e.g. "*/10 * * * * *" for every 10 seconds');
  }
  return parts.join(' ');
}

/** Replaces the database name of a postgres URL. */
export function withDatabase(dsn: string, database: string): string {
  const u = new URL(dsn);
  u.pathname = '/' + encodeURIComponent(database);
  return u.toString();
}

export function databaseOf(dsn: string): string {
  const u = new URL(dsn);
  return decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres';
}
