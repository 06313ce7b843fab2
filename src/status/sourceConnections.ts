import type { Client } from 'pg';
import { DuctError } from '../core/errors';
import { connectClient, endQuietly } from '../source/postgres/connect';
import type { SourceQuery } from './slotProbe';

/**
 * One kept connection per source server for a process that asks its sources periodically (the
 * status sampler): a sample costs one query per server instead of a connection setup. A
 * connection that fails is dropped and the next query opens a new one; {@link prune} closes those
 * of servers no flow uses any more; {@link close} ends them all, and a query after it (a sample
 * still in flight when the process stops) is refused instead of opening a connection that nothing
 * would close.
 */
export class SourceConnections {
  private readonly clients = new Map<string, Promise<Client>>();
  private closed = false;

  constructor(private readonly connectTimeoutMs = 5000) {}

  readonly query: SourceQuery = async (dsn, sql, params) => {
    const client = await this.clientFor(dsn);
    try {
      return (await client.query(sql, params)).rows as Record<string, unknown>[];
    } catch (e) {
      this.drop(dsn, client);
      throw e;
    }
  };

  /** Closes the connections to servers not in `dsns`. */
  async prune(dsns: ReadonlySet<string>): Promise<void> {
    const gone = [...this.clients.keys()].filter((d) => !dsns.has(d));
    await Promise.all(gone.map(async (d) => this.end(d)));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.clients.keys()].map(async (d) => this.end(d)));
  }

  private clientFor(dsn: string): Promise<Client> {
    if (this.closed) return Promise.reject(new DuctError('unavailable', 'source status connections are closed (the process is stopping)', { retry: 'never' }));
    let c = this.clients.get(dsn);
    if (!c) {
      const opened = connectClient(dsn, 'source.options.dsn', {
        connectTimeoutMs: this.connectTimeoutMs,
        applicationName: 'ductstream:status',
        // A connection that breaks while idle is replaced at the next query.
        onError: () => void opened.then((client) => this.drop(dsn, client)),
      });
      c = opened;
      this.clients.set(dsn, c);
      c.catch(() => {
        if (this.clients.get(dsn) === opened) this.clients.delete(dsn);
      });
    }
    return c;
  }

  private drop(dsn: string, client: Client): void {
    const entry = this.clients.get(dsn);
    void entry?.then(
      (current) => {
        if (current !== client || this.clients.get(dsn) !== entry) return;
        this.clients.delete(dsn);
        void endQuietly(client);
      },
      () => undefined,
    );
  }

  private async end(dsn: string): Promise<void> {
    const c = this.clients.get(dsn);
    this.clients.delete(dsn);
    await endQuietly(await c?.catch(() => undefined));
  }
}
