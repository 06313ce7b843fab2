import { describeError } from '../../../core/errors';
import type { Logger } from '../../../core/log';
import { parseLsn, type Lsn } from '../../../core/lsn';
import type { CatalogQuery } from '../catalogQuery';

/** The prefix of DuctStream's heartbeat messages in the WAL. */
export const HEARTBEAT_PREFIX = 'ductstream_heartbeat';

/**
 * Writes a non-transactional logical message (`pg_logical_emit_message`) every `intervalMs` on
 * the session's catalog connection. The WAL sender streams it at once; when no transaction of the
 * flow is open, its position becomes a safe checkpoint, so an idle flow's slot advances even while
 * other tables of the database take all the writes. A failed heartbeat is logged once and retried
 * at the next interval: it never fails the flow.
 */
export class Heartbeat {
  private timer?: NodeJS.Timeout;
  private warned = false;
  private inFlight = false;

  constructor(
    private readonly query: CatalogQuery,
    private readonly intervalMs: number,
    private readonly log: Logger,
    private readonly onBeat: (lsn: Lsn) => void,
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async beat(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      const rows = await this.query<{ lsn: string }>(`SELECT pg_logical_emit_message(false, $1, '')::text AS lsn`, [HEARTBEAT_PREFIX]);
      this.warned = false;
      this.onBeat(parseLsn(rows[0]!.lsn));
    } catch (e) {
      if (!this.warned && this.timer) {
        this.log.warn('heartbeat failed (pg_logical_emit_message); an idle slot may not advance', {
          error: describeError(e),
          hint: 'grant the source user the REPLICATION attribute, or set heartbeat_interval=0',
        });
      }
      this.warned = true;
    } finally {
      this.inFlight = false;
    }
  }
}
