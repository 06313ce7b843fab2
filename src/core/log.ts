import { logLevelFromEnv } from '../config/env';
import { redactSecrets } from './redact';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A minimal structured logger writing one line per event to stderr; every line is redacted. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

function render(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  if (v instanceof Error) return JSON.stringify(v.message);
  return JSON.stringify(v);
}

/** Where log records also go besides stderr (OTLP export, see src/status/otlpLogs.ts): the redacted message and fields. */
export type LogSink = (level: LogLevel, message: string, fields: Record<string, string>) => void;
let sink: LogSink | undefined;

/** Sends every record of every logger also to `s` (undefined: stderr only). */
export function setLogSink(s: LogSink | undefined): void {
  sink = s;
}

export function createLogger(base: Record<string, unknown> = {}, level: LogLevel = logLevelFromEnv()): Logger {
  const min = ORDER[level] ?? ORDER.info;
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[lvl] < min) return;
    const all = { ...base, ...fields };
    const kv = Object.entries(all)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${render(v)}`)
      .join(' ');
    process.stderr.write(redactSecrets(`${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} ${msg}${kv ? ' ' + kv : ''}`) + '\n');
    if (sink) {
      const attributes: Record<string, string> = {};
      for (const [k, v] of Object.entries(all)) if (v !== undefined) attributes[k] = redactSecrets(typeof v === 'string' ? v : render(v));
      sink(lvl, redactSecrets(msg), attributes);
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...base, ...fields }, level),
  };
}

/** A logger that drops everything (tests that assert on stderr use their own). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
