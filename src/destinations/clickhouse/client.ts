import { Readable } from 'node:stream';
import { ClickHouseError, ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import { DuctError, type RetryClass } from '../../core/errors';
import { redactSecrets } from '../../core/redact';
import { withRetry, type RetryPolicy } from '../../core/retry';

/**
 * Retries of one request while ClickHouse is away or busy (about a minute in all); the flow's step
 * retries come on top. Every request the destination sends is idempotent (versioned rows, deletes
 * by key, `IF NOT EXISTS` DDL), so sending one again is safe.
 */
const REQUEST_RETRY: Partial<RetryPolicy> = { maxAttempts: 10, baseMs: 250, maxMs: 15_000 };

/** Settings sent with every request: exact text for 64-bit integers and decimals in JSON answers. */
const SESSION_SETTINGS: ClickHouseSettings = {
  output_format_json_quote_64bit_integers: 1,
  output_format_json_quote_decimals: 1,
  /** Key lists of fills and mutations are far longer than the default 256 KiB. */
  max_query_size: '268435456',
};

/**
 * A ClickHouse server over its HTTP interface (`@clickhouse/client`), as the destination uses it:
 * statements, JSON row queries and TabSeparated inserts. Each call retries transient failures
 * (connection refused or reset, timeouts, a server overloaded) with the one retry helper and
 * throws DuctErrors: bad SQL or data `never`, the rest `transient`/`backoff`. Messages never
 * contain the dsn's password.
 */
export class ClickhouseConnection {
  private readonly client: ClickHouseClient;

  constructor(
    dsn: string,
    private readonly dsnField: string,
    requestTimeoutMs: number,
  ) {
    const url = new URL(dsn);
    const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'default';
    this.client = createClient({
      url: `${url.protocol}//${url.host}`,
      username: decodeURIComponent(url.username) || 'default',
      password: decodeURIComponent(url.password),
      database,
      request_timeout: requestTimeoutMs,
      clickhouse_settings: SESSION_SETTINGS,
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  /** One request to `/ping`, no retry: throws `unavailable` naming the dsn option when nothing answers. */
  async ping(): Promise<void> {
    const r = await this.client.ping();
    if (r.success) return;
    const reason = r.error instanceof Error ? ((r.error as NodeJS.ErrnoException).code ?? r.error.message) : 'no answer';
    throw new DuctError('unavailable', `${this.dsnField}: ClickHouse does not answer (${redactSecrets(reason)})`, {
      retry: 'backoff',
      field: this.dsnField,
      hint: `check that ${this.dsnField} points at a running ClickHouse HTTP interface (http(s)://user:password@host:port/database)`,
    });
  }

  /** Runs a statement (DDL, ALTER, INSERT … SELECT), with per-statement settings. */
  async command(query: string, settings: ClickHouseSettings = {}): Promise<void> {
    await this.retrying(query, () => this.client.command({ query, clickhouse_settings: settings }).then(() => undefined));
  }

  /** Rows of a SELECT as objects (64-bit integers and decimals as strings). */
  async rows(query: string): Promise<Record<string, unknown>[]> {
    return this.retrying(query, async () => {
      const rs = await this.client.query({ query, format: 'JSONEachRow' });
      return rs.json<Record<string, unknown>>();
    });
  }

  /** Rows of a SELECT as TabSeparated fields, exactly as ClickHouse escaped them (reusable as TSV input). */
  async tsv(query: string): Promise<string[][]> {
    return this.retrying(query, async () => {
      const text = await (await this.client.query({ query, format: 'TabSeparated' })).text();
      if (text === '') return [];
      return text
        .replace(/\n$/, '')
        .split('\n')
        .map((line) => line.split('\t'));
    });
  }

  /**
   * Inserts TabSeparated `data` (rows ending in `\n`; a string, or its UTF-8 bytes) into `table`
   * (`db.table` quoted) for `columns`, as one request.
   */
  async insertTsv(table: string, columns: string[], data: string | Buffer): Promise<void> {
    if (data.length === 0) return;
    const body = typeof data === 'string' ? Buffer.from(data) : data;
    await this.retrying(`INSERT INTO ${table}`, () =>
      this.client
        .insert({ table, columns: columns as [string, ...string[]], values: Readable.from([body], { objectMode: false }), format: 'TabSeparated' })
        .then(() => undefined),
    );
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(async () => {
      try {
        return await fn();
      } catch (e) {
        throw classify(e, what, this.dsnField);
      }
    }, REQUEST_RETRY);
  }
}

/** Server error codes a retry can get past: timeouts, too many parts/queries, memory, network, readonly replica. */
const TRANSIENT_CODES = new Set([159, 160, 164, 202, 209, 210, 241, 242, 252, 285, 319, 394, 425, 999, 1000]);

/**
 * A failure → DuctError: a ClickHouse exception (it has a code) is permanent unless its code is
 * one of {@link TRANSIENT_CODES}; anything below HTTP (refused, reset, timeout, DNS) is transient.
 */
export function classify(e: unknown, what: string, dsnField: string): DuctError {
  if (e instanceof DuctError) return e;
  const sql = what.length > 300 ? what.slice(0, 300) + '…' : what;
  if (e instanceof ClickHouseError) {
    const code = Number(e.code);
    const retry: RetryClass = TRANSIENT_CODES.has(code) ? 'backoff' : 'never';
    return new DuctError('destination_failed', `ClickHouse: ${redactSecrets(e.message)} (${e.type ?? `code ${e.code}`}; in: ${sql})`, { retry, cause: e });
  }
  const err = e as NodeJS.ErrnoException;
  const code = err?.code ?? (e instanceof Error ? e.message : String(e));
  if (!NETWORK.test(String(code)) && !NETWORK.test(e instanceof Error ? e.message : '')) {
    return new DuctError('destination_failed', `ClickHouse client: ${redactSecrets(String(code))} (in: ${sql})`, { retry: 'never', cause: e });
  }
  return new DuctError('unavailable', `ClickHouse at ${dsnField}: ${redactSecrets(String(code))} (in: ${sql})`, {
    retry: 'transient',
    hint: `check that ${dsnField} points at a running ClickHouse`,
    cause: e,
  });
}

/** Failures below HTTP: refused, reset, DNS, timeouts, a socket closed mid-answer. */
const NETWORK = /^E[A-Z]+$|ECONN|EPIPE|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|socket hang up|timeout|other side closed|aborted/i;
