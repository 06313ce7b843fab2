import { DuctError, describeError, isDuctError } from '../../core/errors';
import { maskDsn } from '../../core/redact';

/** The fields of a node `pg` error that classification reads. */
interface PgErrorLike {
  code?: string;
  message?: string;
}

function pgCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && typeof (e as PgErrorLike).code === 'string' ? (e as PgErrorLike).code : undefined;
}

/** Socket-level failures: the server is unreachable or went away. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED']);

/** SQLSTATEs meaning "the server is going away or not ready": retry soon. */
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08003', '08006', '08001', '08004', '40001', '40P01', '55P03']);

export function isConnectionLoss(e: unknown): boolean {
  const code = pgCode(e);
  if (code && (NETWORK_CODES.has(code) || TRANSIENT_SQLSTATES.has(code))) return true;
  const msg = e instanceof Error ? e.message : String(e);
  return /Connection terminated|connection timeout|timeout expired|socket hang up|server closed the connection/i.test(msg);
}

/**
 * A failure to connect with `dsn` as a DuctError naming the option field; the message shows the
 * DSN with its password masked and the driver's reason.
 */
export function connectError(e: unknown, dsn: string, field: string): DuctError {
  if (isDuctError(e)) return e;
  const code = pgCode(e);
  const reason = describeError(e);
  const where = maskDsn(dsn);
  if (code === '28P01' || code === '28000') {
    return new DuctError('failed_precondition', `${field}: authentication failed for ${where}: ${reason}`, {
      field,
      retry: 'never',
      hint: 'check the user and password in the DSN, and pg_hba.conf',
      cause: e,
    });
  }
  if (code === '3D000') {
    return new DuctError('failed_precondition', `${field}: the database in ${where} does not exist: ${reason}`, {
      field,
      retry: 'never',
      hint: 'fix the database name in the DSN or create the database',
      cause: e,
    });
  }
  return new DuctError('unavailable', `${field}: cannot connect to PostgreSQL at ${where}: ${reason}`, {
    field,
    retry: 'transient',
    hint: 'check that the server is running and reachable from this host',
    cause: e,
  });
}

/** Classifies an error of the replication stream or a catalog query. */
export function streamError(e: unknown, slot: string): DuctError {
  if (isDuctError(e)) return e;
  const code = pgCode(e);
  const reason = describeError(e);
  if (code === '55006') {
    return new DuctError('unavailable', `another process is streaming from slot ${slot}: ${reason}`, {
      retry: 'transient',
      hint: `stop the other consumer of replication slot ${slot}, or wait for it to disconnect`,
      cause: e,
    });
  }
  if (code === '42704' && /replication slot/i.test(reason)) {
    return new DuctError('failed_precondition', `replication slot ${slot} does not exist: ${reason}`, {
      retry: 'never',
      hint: 'set create_slot=true (the default) or create it with pg_create_logical_replication_slot',
      cause: e,
    });
  }
  if (code === '58P01' || /has already been removed/i.test(reason)) {
    return new DuctError('failed_precondition', `the WAL for slot ${slot} is gone: ${reason}`, {
      retry: 'never',
      hint: 'the slot was invalidated (max_slot_wal_keep_size?); drop it, create a new one and backfill',
      cause: e,
    });
  }
  if (isConnectionLoss(e)) {
    return new DuctError('unavailable', `the replication connection for slot ${slot} was lost: ${reason}`, { retry: 'transient', cause: e });
  }
  return new DuctError('source_failed', `replication from slot ${slot} failed: ${reason}`, { retry: 'transient', cause: e });
}
