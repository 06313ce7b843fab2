import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DuckDBDataChunk, DuckDBInstance, type DuckDBAppender, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import { DuctError, invalidArgument } from '../../core/errors';
import type { QualifiedName } from '../sql/dialect';
import type { LoadColumn, SqlSession } from '../sql/session';
import { conversionError, converterFor } from './values';

export const MEMORY_DSN = ':memory:';

/** Rows per appended chunk: DuckDB's vector size. */
const CHUNK_ROWS = 2048;

/**
 * One DuckDB worker thread: a destination runs one statement at a time on batches of at most a
 * few thousand rows, where more threads add coordination and no speed. Measured with
 * bench/duckdb-write-profile.ts (10k-row upserts): 25–35% less CPU in the apply and commit, and
 * no slower, than DuckDB's default of one thread per core.
 */
const INSTANCE_OPTIONS: Record<string, string> = { threads: '1' };

interface SharedInstance {
  instance: Promise<DuckDBInstance>;
  refs: number;
}

/**
 * DuckDB allows one process to open a file for writing; inside a process, every destination on
 * the same file shares one instance (each with its own connection), closed with its last user.
 */
const instances = new Map<string, SharedInstance>();

/**
 * In-memory databases by owner (flow and destination): kept for the life of the process, so a
 * destination closed and reopened (a retried step) finds the rows its checkpoint says it holds.
 * They end with the process, and with them every row.
 */
const memoryInstances = new Map<string, SharedInstance>();

/** An open DuckDB database as the shared SQL layer uses it. */
export interface DuckdbHandle {
  session: SqlSession;
  /** The connection, for reading back (tests, tools). */
  connection: DuckDBConnection;
  close(): void;
}

/**
 * Opens (creating when missing, with its parent directories) the DuckDB database `dsn` — a file
 * path or `:memory:`. With `memoryOwner` (flow and destination), an in-memory database lives as
 * long as the process and every open by that owner gets the same one; without, a fresh one.
 * `memoryLimit` is DuckDB's `memory_limit` of the instance, set by the open that creates it (later
 * opens of the same file share it as it is). Errors name `dsnField`: an uncreatable directory or unreadable file is
 * permanent (`never`); a file locked by another process is retried with backoff.
 */
export async function openDuckdb(dsn: string, dsnField: string, memoryOwner?: string, memoryLimit?: string): Promise<DuckdbHandle> {
  const path = dsn === MEMORY_DSN ? MEMORY_DSN : resolve(dsn);
  if (path !== MEMORY_DSN) {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      throw invalidArgument(
        dsnField,
        `cannot create directory ${dirname(path)} for the DuckDB file (${code})`,
        'set dsn to a path in a writable directory, or :memory:',
      );
    }
  }
  const kept = path === MEMORY_DSN && memoryOwner !== undefined;
  let shared = kept ? memoryInstances.get(memoryOwner) : path === MEMORY_DSN ? undefined : instances.get(path);
  if (!shared) {
    const options = memoryLimit === undefined ? INSTANCE_OPTIONS : { ...INSTANCE_OPTIONS, memory_limit: memoryLimit };
    shared = { instance: DuckDBInstance.create(path, options), refs: 0 };
    if (kept) memoryInstances.set(memoryOwner, shared);
    else if (path !== MEMORY_DSN) instances.set(path, shared);
  }
  // A kept in-memory database holds one reference of its own: it is never closed.
  if (kept && shared.refs === 0) shared.refs++;
  shared.refs++;
  let connection: DuckDBConnection;
  try {
    connection = await (await shared.instance).connect();
  } catch (e) {
    release(path, shared);
    throw openError(e, path, dsnField);
  }
  let closed = false;
  return {
    session: new DuckdbSession(connection),
    connection,
    close: () => {
      if (closed) return;
      closed = true;
      connection.closeSync();
      release(path, shared);
    },
  };
}

function release(path: string, shared: SharedInstance): void {
  shared.refs--;
  if (shared.refs > 0) return;
  if (instances.get(path) === shared) instances.delete(path);
  shared.instance.then(
    (i) => i.closeSync(),
    () => undefined,
  );
}

function openError(e: unknown, path: string, field: string): DuctError {
  const msg = e instanceof Error ? e.message : String(e);
  const lock = /Could not set lock on file.*?(\(PID \d+\))?/s.exec(msg);
  if (lock) {
    const holder = /PID (\d+)/.exec(msg);
    return new DuctError('unavailable', `${field}: the DuckDB file ${path} is locked by another process${holder ? ` (PID ${holder[1]})` : ''}`, {
      retry: 'backoff',
      field,
      hint: 'DuckDB lets one process write a file: stop the other process, or give this destination a dsn of its own',
      cause: e,
    });
  }
  return new DuctError('invalid_argument', `${field}: cannot open DuckDB database ${path}: ${msg}`, {
    retry: 'never',
    field,
    hint: 'point dsn to a DuckDB database file (it is created when missing) or :memory:',
    cause: e,
  });
}

/**
 * A DuckDB connection as a {@link SqlSession}. Loads (and appends to targets inside a transaction)
 * use the Appender with whole data chunks (vectors of 2048 rows), the fastest way into DuckDB from Node.
 */
export class DuckdbSession implements SqlSession {
  constructor(private readonly conn: DuckDBConnection) {}

  async execute(sql: string): Promise<void> {
    try {
      await this.conn.run(sql);
    } catch (e) {
      throw classify(e, sql);
    }
  }

  async executeScript(statements: string[]): Promise<void> {
    if (statements.length === 0) return;
    try {
      await this.conn.run(statements.join(';\n'));
    } catch (e) {
      throw classify(e, statements.length === 1 ? statements[0]! : `one of ${statements.length} statements`);
    }
  }

  async executeCounting(sql: string): Promise<number> {
    try {
      return (await this.conn.run(sql)).rowsChanged;
    } catch (e) {
      throw classify(e, sql);
    }
  }

  async query(sql: string): Promise<Record<string, unknown>[]> {
    try {
      const reader = await this.conn.runAndReadAll(sql);
      return reader.getRowObjects();
    } catch (e) {
      throw classify(e, sql);
    }
  }

  async load(table: QualifiedName, columns: LoadColumn[], rowCount: number): Promise<void> {
    const temp = table.schema === 'temp';
    let appender: DuckDBAppender;
    try {
      appender = await this.conn.createAppender(table.name, temp ? 'main' : table.schema, temp ? 'temp' : null);
    } catch (e) {
      throw classify(e, `appender on ${table.schema}.${table.name}`);
    }
    let ok = false;
    try {
      const types: DuckDBType[] = columns.map((_, i) => appender.columnType(i));
      const converters = columns.map((c) => converterFor(c.type));
      for (let start = 0; start < rowCount; start += CHUNK_ROWS) {
        const n = Math.min(CHUNK_ROWS, rowCount - start);
        const chunk = DuckDBDataChunk.create(types, n);
        for (let ci = 0; ci < columns.length; ci++) {
          const c = columns[ci]!;
          const values = c.values;
          const convert = converters[ci]!;
          const vector = chunk.getColumnVector(ci);
          let i = 0;
          try {
            for (; i < n; i++) vector.setItem(i, convert(values[start + i] ?? null));
          } catch (e) {
            throw conversionError(c.name, c.type, e);
          }
          vector.flush();
        }
        appender.appendDataChunk(chunk);
      }
      appender.flushSync();
      ok = true;
    } catch (e) {
      throw e instanceof DuctError ? e : classify(e, `loading ${table.schema}.${table.name}`);
    } finally {
      if (ok) appender.closeSync();
      else {
        // After a failed append (a duplicate key inside a transaction) the appender cannot flush
        // any more: its rows are dropped, and the error above is the one that counts.
        try {
          appender.clear();
          appender.closeSync();
        } catch {
          // the transaction is aborted; the caller rolls it back
        }
      }
    }
  }

  /** The Appender runs in the connection's transaction and checks the table's constraints. */
  appendInTransaction(table: QualifiedName, columns: LoadColumn[], rowCount: number): Promise<void> {
    return this.load(table, columns, rowCount);
  }
}

/**
 * DuckDB error → DuctError: bad data or SQL (`Constraint`, `Conversion`, `Binder`, `Catalog`,
 * `Parser`, `Invalid Input`, `Out of Range`) never succeeds on retry; transaction conflicts are
 * transient; I/O and memory errors (disk full, file locked) back off.
 */
export function classify(e: unknown, context: string): DuctError {
  const msg = e instanceof Error ? e.message : String(e);
  const kind = /^([A-Za-z ]+?) Error:/.exec(msg)?.[1] ?? '';
  const permanent = ['Constraint', 'Conversion', 'Binder', 'Catalog', 'Parser', 'Invalid Input', 'Out of Range', 'Not implemented', 'Type Mismatch'];
  const sqlHint = context.length > 300 ? context.slice(0, 300) + '…' : context;
  if (permanent.includes(kind)) return new DuctError('destination_failed', `DuckDB: ${msg} (in: ${sqlHint})`, { retry: 'never', cause: e });
  if (/conflict/i.test(msg) || kind === 'TransactionContext') return new DuctError('destination_failed', `DuckDB: ${msg}`, { retry: 'transient', cause: e });
  return new DuctError('destination_failed', `DuckDB: ${msg}`, { retry: 'backoff', cause: e });
}
