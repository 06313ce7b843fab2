import type { ClientConfig } from 'pg';
import { invalidArgument } from '../../core/errors';
import { maskDsn } from '../../core/redact';

/**
 * PostgreSQL DSNs in the two forms libpq accepts: a URL (`postgres://user:pass@host:5432/db?sslmode=disable`)
 * or key/value pairs (`host=localhost port=5432 dbname=app user=me password=secret`). Errors never
 * show the password: they print the DSN through {@link maskDsn}.
 */

const URL_PREFIX = /^postgres(?:ql)?:\/\//i;
const KV_TOKEN = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']+)\s*/y;

/** The session settings every DuctStream connection sets, so value text is stable (see types/). */
export const STABLE_SESSION_SETTINGS: Readonly<Record<string, string>> = {
  DateStyle: 'ISO',
  TimeZone: 'UTC',
  IntervalStyle: 'postgres',
  extra_float_digits: '3',
  bytea_output: 'hex',
};

function startupOptions(): string {
  return Object.entries(STABLE_SESSION_SETTINGS)
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(' ');
}

/** Parses a key/value DSN into its pairs; undefined when it is not one. */
export function parseKeyValueDsn(dsn: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  KV_TOKEN.lastIndex = 0;
  let pos = 0;
  let count = 0;
  while (pos < dsn.length) {
    KV_TOKEN.lastIndex = pos;
    const m = KV_TOKEN.exec(dsn);
    if (!m) return dsn.slice(pos).trim() === '' && count > 0 ? out : undefined;
    let value = m[2]!;
    if (value.startsWith("'")) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    out[m[1]!.toLowerCase()] = value;
    pos = KV_TOKEN.lastIndex;
    count++;
  }
  return count > 0 ? out : undefined;
}

/**
 * Checks that `dsn` is a postgres URL or a key/value DSN. Throws `invalid_argument` naming `field`;
 * the message shows the DSN with its password masked.
 */
export function validateDsn(dsn: string, field: string): void {
  const shown = maskDsn(dsn);
  if (URL_PREFIX.test(dsn)) {
    try {
      const u = new URL(dsn);
      if (u.hostname === '' && !u.searchParams.has('host')) {
        throw invalidArgument(field, `"${shown}" has no host`, 'use postgres://user:password@host:5432/dbname');
      }
      if (u.port !== '' && !(Number(u.port) > 0 && Number(u.port) < 65536)) {
        throw invalidArgument(field, `"${shown}" has an invalid port`, 'use a port between 1 and 65535');
      }
    } catch (e) {
      if (e instanceof Error && e.name === 'DuctError') throw e;
      throw invalidArgument(
        field,
        `"${shown}" is not a valid postgres URL`,
        'use postgres://user:password@host:5432/dbname (percent-encode special characters in the password)',
      );
    }
    return;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(dsn)) {
    throw invalidArgument(
      field,
      `"${shown}" is not a postgres DSN`,
      'use a postgres:// or postgresql:// URL, or key=value pairs like "host=localhost dbname=app user=me"',
    );
  }
  const kv = parseKeyValueDsn(dsn);
  if (!kv) {
    throw invalidArgument(
      field,
      `"${shown}" is neither a postgres URL nor key=value pairs`,
      'use postgres://user:password@host:5432/dbname or "host=localhost port=5432 dbname=app user=me"',
    );
  }
  if (kv.port !== undefined && !(/^\d+$/.test(kv.port) && Number(kv.port) > 0 && Number(kv.port) < 65536)) {
    throw invalidArgument(field, `"${shown}" has an invalid port`, 'use a port between 1 and 65535');
  }
}

function sslFromMode(mode: string | undefined): ClientConfig['ssl'] {
  switch (mode) {
    case undefined:
    case 'disable':
    case 'allow':
    case 'prefer':
      return false;
    case 'require':
      return { rejectUnauthorized: false };
    default:
      return true; // verify-ca, verify-full
  }
}

export interface ConnectionOptions {
  /** `'database'` opens a logical replication connection (walsender). */
  replication?: 'database';
  applicationName?: string;
  connectTimeoutMs?: number;
}

/**
 * A node `pg` client configuration for `dsn`, with {@link STABLE_SESSION_SETTINGS} sent in the
 * startup packet (they apply to walsender connections too).
 */
export function clientConfigFromDsn(dsn: string, opts: ConnectionOptions = {}): ClientConfig & { replication?: string } {
  const base: ClientConfig & { replication?: string } = {
    options: startupOptions(),
    application_name: opts.applicationName ?? 'ductstream',
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    keepAlive: true,
  };
  if (opts.replication) base.replication = opts.replication;
  if (URL_PREFIX.test(dsn)) return { ...base, connectionString: dsn };
  const kv = parseKeyValueDsn(dsn) ?? {};
  const cfg: ClientConfig & { replication?: string } = { ...base };
  if (kv.host !== undefined || kv.hostaddr !== undefined) cfg.host = kv.hostaddr ?? kv.host;
  if (kv.port !== undefined) cfg.port = Number(kv.port);
  if (kv.dbname !== undefined) cfg.database = kv.dbname;
  if (kv.user !== undefined) cfg.user = kv.user;
  if (kv.password !== undefined) cfg.password = kv.password;
  if (kv.application_name !== undefined && !opts.applicationName) cfg.application_name = kv.application_name;
  if (kv.connect_timeout !== undefined && /^\d+$/.test(kv.connect_timeout)) cfg.connectionTimeoutMillis = Number(kv.connect_timeout) * 1000;
  if (kv.options !== undefined) cfg.options = `${kv.options} ${cfg.options ?? ''}`.trim();
  cfg.ssl = sslFromMode(kv.sslmode);
  return cfg;
}

/**
 * The local files a DSN makes the driver read: `sslcert`, `sslkey`, `sslrootcert` of a URL (node
 * `pg` reads them when connecting). Key/value DSNs pass no file parameters to the driver.
 */
export function dsnLocalFiles(dsn: string): { param: string; path: string }[] {
  if (!URL_PREFIX.test(dsn)) return [];
  try {
    const params = new URL(dsn).searchParams;
    return ['sslcert', 'sslkey', 'sslrootcert'].map((param) => ({ param, path: params.get(param) ?? '' })).filter((f) => f.path !== '' && f.path !== 'system');
  } catch {
    return [];
  }
}
