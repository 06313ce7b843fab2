/** DBOS's own bound on how long a system database session may sit idle inside a transaction. */
export const SYSTEM_DB_IDLE_TRANSACTION_TIMEOUT_MS = 60_000;

const SETTING = 'idle_in_transaction_session_timeout';

/**
 * The system database URL with DBOS's idle-in-transaction timeout set at connection time, through
 * libpq's `options` (`-c idle_in_transaction_session_timeout=60000`). Without it, DBOS sets the
 * timeout with a `SET` queued on every new pool connection from the pool's `connect` event, ahead
 * of the query the connection was opened for: node pg then warns, once per process, "Calling
 * client.query() when the client is already executing a query is deprecated" (and pg 9 will refuse
 * it). DBOS sees the setting in the URL and queues nothing. The session ends up with the same
 * setting either way. A URL that already sets it, or that is not a URL (a `key=value` DSN), is
 * returned unchanged.
 */
export function withIdleTransactionTimeout(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') return url;
  const options = parsed.searchParams.get('options') ?? '';
  if (options.includes(SETTING)) return url;
  const setting = `-c ${SETTING}=${SYSTEM_DB_IDLE_TRANSACTION_TIMEOUT_MS}`;
  parsed.searchParams.set('options', options.trim() === '' ? setting : `${options} ${setting}`);
  return parsed.toString();
}
