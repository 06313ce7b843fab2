import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { describeError } from '../core/errors';
import type { Logger } from '../core/log';

/** Advisory-lock class of executor presence locks (the first key), so they never meet other locks. */
const PRESENCE_CLASS = 0x44530001; // "DS" 0001

/** How often the holder checks its connection and re-takes a lost lock. */
const HOLD_CHECK_MS = 1000;

/** The second advisory-lock key of an executor: 31 bits of a hash of the application and executor ID. */
export function presenceKey(app: string, executorId: string): number {
  return createHash('sha256').update(`${app}\0${executorId}`).digest().readUInt32BE(0) & 0x7fffffff;
}

/**
 * Which DBOS executors are alive, decided on the system database they all share (Postgres is the
 * only coordinator). Each process that executes runs (server or worker) holds a session advisory
 * lock named after its executor ID for as long as it lives; PostgreSQL drops it when the session
 * ends, which a killed process's session does at once (a vanished host: after the TCP keepalives
 * set on the session, ~25 s). A lost connection (database restart) is re-established and the lock
 * taken again within about a second.
 *
 * Contract: `isPresent` is true while some session holds the executor's lock; false can also mean
 * "not yet re-taken after a database restart", so callers must see an executor absent for a while
 * before acting on it (see takeover.ts). While the database is unreachable `isPresent` throws and
 * the holder keeps retrying in the background.
 */
export class ExecutorPresence {
  private client?: Client;
  private connecting?: Promise<Client>;
  private held = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private warnedTaken = false;
  private readonly key: number;

  constructor(private readonly o: { systemDatabaseUrl: string; app: string; executorId: string; log: Logger }) {
    this.key = presenceKey(o.app, o.executorId);
  }

  /** Takes the lock (retrying in the background when the database is not reachable yet). */
  async start(): Promise<void> {
    await this.hold();
    this.schedule();
  }

  /** Whether a live process holds `executorId`'s presence lock. Throws when the database cannot be asked. */
  async isPresent(executorId: string): Promise<boolean> {
    if (executorId === this.o.executorId) return true;
    const client = await this.connected();
    const r = await client.query<{ present: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1::bigint::oid AND objid = $2::bigint::oid
         AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) AS present`,
      [PRESENCE_CLASS, presenceKey(this.o.app, executorId)],
    );
    return r.rows[0]?.present === true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.drop();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.hold().finally(() => this.schedule());
    }, HOLD_CHECK_MS);
    this.timer.unref();
  }

  /** Makes sure the lock is held on a live session: pings it, or reconnects and takes it again. */
  private async hold(): Promise<void> {
    try {
      const client = await this.connected();
      if (this.held) {
        await client.query('SELECT 1');
        return;
      }
      const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [PRESENCE_CLASS, this.key]);
      this.held = r.rows[0]?.ok === true;
      if (this.held) {
        this.warnedTaken = false;
        this.o.log.debug('executor presence held', { executor: this.o.executorId });
      } else if (!this.warnedTaken) {
        this.warnedTaken = true;
        this.o.log.warn('another live process uses this executor ID: give every process its own DBOS__VMID', { executor: this.o.executorId });
      }
    } catch (e) {
      this.o.log.debug('executor presence: database unreachable, retrying', { error: describeError(e) });
      await this.drop();
    }
  }

  private async connected(): Promise<Client> {
    if (this.client) return this.client;
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<Client> {
    const client = new Client({ connectionString: this.o.systemDatabaseUrl, connectionTimeoutMillis: 5000, keepAlive: true });
    client.on('error', () => void this.drop());
    try {
      await client.connect();
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
    // The server ends the session (and frees the lock) ~25 s after this host vanishes without closing it.
    await client.query('SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3').catch(() => undefined);
    this.client = client;
    this.held = false;
    return client;
  }

  private async drop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.held = false;
    await client?.end().catch(() => undefined);
  }
}
