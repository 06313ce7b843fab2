import type { Client } from 'pg';
import type { Batch } from '../../../core/change';
import { DuctError } from '../../../core/errors';
import type { Logger } from '../../../core/log';
import { formatLsn, type Lsn } from '../../../core/lsn';
import { catalogQueryOf } from '../catalogQuery';
import type { PostgresSourceConfig } from '../config';
import { connectClient, endQuietly } from '../connect';
import { streamError } from '../errors';
import { parsePgoutput } from '../pgoutput/decoder';
import { KEEPALIVE, XLOG_DATA, XLOG_DATA_HEADER, readLsn, standbyStatusUpdate } from '../pgoutput/framing';
import type { RelationMessage } from '../pgoutput/messages';
import { RelationLoader } from '../schema/relationLoader';
import { sameTableSchema, type RelationState } from '../schema/relationState';
import { TypeRegistry } from '../types/resolver';
import { ChangeAssembler } from './assembler';
import { Heartbeat } from './heartbeat';
import { DDL_MESSAGE_PREFIX } from '../../../ddl/trigger';
import { ReplicationConnection } from './replicationConnection';
import { readSlot } from './slotInfo';

const DSN_FIELD = 'source.options.dsn';

/** Positions for progress output and lag. */
export interface StreamPositions {
  /** Highest WAL position received in a change or commit. */
  receivedLsn: Lsn;
  /** Last position acknowledged to the server (what confirmed_flush_lsn moves to). */
  ackedLsn: Lsn;
  /** The server's end of WAL from its last keepalive (0 before the first one). */
  serverWalEnd: Lsn;
  /** The checkpoint the next batch would carry. */
  checkpointLsn: Lsn;
  /** Changes decoded since the session opened. */
  changes: number;
}

export interface SessionDeps {
  flowId: string;
  log: Logger;
  internalSchemas: ReadonlySet<string>;
  /** The last acknowledged position, shared with the source so it survives reopening. */
  acked: { lsn: Lsn };
  /**
   * Decoded-ahead limit: the socket is paused once at least `maxReadyBatches` batches holding at
   * least `readAheadRows` changes in all are ready (so small batches can still fill a merged write).
   */
  maxReadyBatches: number;
  readAheadRows: number;
  /** Called with the WAL position of each heartbeat written (`heartbeat_interval`). */
  onHeartbeat?: (lsn: Lsn) => void;
}

/**
 * One replication session: a catalog connection, a walsender connection and the decoding state.
 * Decoding is synchronous in the CopyData handler (node pg reuses its receive buffer), except that
 * a Relation message needs catalog lookups: until they finish, the socket is paused and the
 * following messages are copied into an inbox, then processed in order.
 */
export class ReplicationSession {
  private catalog?: Client;
  private conn?: ReplicationConnection;
  private readonly relations = new Map<number, RelationState>();
  private readonly assembler: ChangeAssembler;
  private loader?: RelationLoader;
  private blocked = false;
  private inbox: Buffer[] = [];
  private error?: DuctError;
  private stopped = false;
  private stopPromise?: Promise<void>;
  private waiter?: () => void;
  /** True when the waiting consumer also wants to hear about the first pending change. */
  private waiterWantsFirstChange = false;
  private statusTimer?: NodeJS.Timeout;
  private heartbeat?: Heartbeat;
  private receivedLsn: Lsn = 0n;
  private serverWalEnd: Lsn = 0n;
  /**
   * False while the last socket read suggests more bytes are on the way (it filled the read buffer
   * or ended inside a message). Stays true when node pg's parser frames the stream (no read hook).
   */
  private drained = true;

  constructor(
    private readonly config: PostgresSourceConfig,
    private readonly deps: SessionDeps,
    private readonly from: Lsn,
  ) {
    this.assembler = new ChangeAssembler(deps.flowId, config.batchSize, from, this.relations);
  }

  positions(): StreamPositions {
    return {
      receivedLsn: this.receivedLsn,
      ackedLsn: this.deps.acked.lsn,
      serverWalEnd: this.serverWalEnd,
      checkpointLsn: this.assembler.safeLsn,
      changes: this.assembler.changeCount,
    };
  }

  async start(): Promise<void> {
    const { config, deps } = this;
    const appName = `ductstream:${deps.flowId}`.slice(0, 63);
    try {
      this.catalog = await connectClient(config.dsn, DSN_FIELD, { applicationName: appName, onError: (e) => this.fail(e) });
      const query = catalogQueryOf(this.catalog);
      const slot = await readSlot(query, config.slot);
      // Never report a position below the slot's: PostgreSQL 15 would move confirmed_flush back.
      // (`from` itself is not acknowledged: only ack() says what is durable.)
      if (slot.confirmedFlushLsn !== null && slot.confirmedFlushLsn > deps.acked.lsn) deps.acked.lsn = slot.confirmedFlushLsn;
      if (slot.confirmedFlushLsn !== null && slot.confirmedFlushLsn > this.assembler.safeLsn) this.assembler.safeLsn = slot.confirmedFlushLsn;
      this.loader = new RelationLoader(query, new TypeRegistry(config.resolveTypes, query), deps.internalSchemas);
      this.conn = await ReplicationConnection.open(config.dsn, DSN_FIELD, appName, (e) => this.fail(e));
      if (this.stopped) return;
      this.conn.coalesceSmallReads();
      await this.conn.start(config.slot, config.publication, this.from, {
        onCopyData: (buf, start, end) => this.onCopyData(buf, start, end),
        onFailure: (e) => this.fail(e),
        onReadDone: (more) => this.onReadDone(more),
      });
    } catch (e) {
      const err = streamError(e, config.slot);
      await this.stop();
      throw err;
    }
    deps.log.info('replication started', { slot: config.slot, publication: config.publication, from: formatLsn(this.from) });
    this.statusTimer = setInterval(() => this.sendStatus(), config.statusIntervalMs);
    this.statusTimer.unref();
    this.heartbeat = new Heartbeat(catalogQueryOf(this.catalog), config.monitoring.heartbeatIntervalMs, deps.log, (lsn) => deps.onHeartbeat?.(lsn));
    this.heartbeat.start();
  }

  /** Sends the last acknowledged position now. */
  sendStatus(): void {
    try {
      this.conn?.send(standbyStatusUpdate(this.deps.acked.lsn));
    } catch (e) {
      this.fail(e);
    }
  }

  /**
   * The next batch: a full one as soon as it exists; a partial one as soon as the stream has caught
   * up (see {@link caughtUp}), else `batch_timeout` after its first change; or an empty one after
   * `batch_timeout` without changes (at once when it carries DDL captured by the event trigger and
   * the stream has caught up: a DDL with no row after it is not held back). Undefined once stopped. So an idle stream delivers a change
   * within milliseconds, while a busy one still fills batches (it is cut only when the consumer
   * asks and nothing more is arriving).
   */
  async next(): Promise<Batch | undefined> {
    const timeout = this.config.batchTimeoutMs;
    const waitStart = Date.now();
    for (;;) {
      if (this.error) throw this.error;
      if (this.stopped) return undefined;
      const ready = this.assembler.takeReady();
      if (ready) {
        if (!this.backlogged()) this.resume('backlog');
        return ready;
      }
      if (this.caughtUp()) {
        // Only DDL pending (a DDL with no row after it): hand it out now, not after `batch_timeout`.
        if (this.assembler.pendingCount === 0) return this.assembler.emptyBatch();
        this.assembler.cut();
        continue;
      }
      const now = Date.now();
      const due = this.assembler.pendingCount > 0 ? this.assembler.pendingSince + timeout : waitStart + timeout;
      if (now >= due) {
        if (this.assembler.pendingCount > 0) {
          this.assembler.cut();
          continue;
        }
        return this.assembler.emptyBatch();
      }
      this.resume('backlog');
      this.waiterWantsFirstChange = this.assembler.pendingCount === 0;
      await this.waitForSignal(due - now);
    }
  }

  stop(): Promise<void> {
    if (!this.stopPromise) {
      this.stopped = true;
      this.wake();
      if (this.statusTimer) clearInterval(this.statusTimer);
      this.heartbeat?.stop();
      this.stopPromise = (async () => {
        await this.conn?.stop();
        await endQuietly(this.catalog);
        this.inbox = [];
      })();
    }
    return this.stopPromise;
  }

  private fail(e: unknown): void {
    if (this.error || this.stopped) return;
    this.error = streamError(e, this.config.slot);
    this.deps.log.warn('replication stream failed', { slot: this.config.slot, error: this.error.message });
    this.wake();
  }

  private waitForSignal(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve();
      }, ms);
      this.waiter = () => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve();
      };
    });
  }

  private wake(): void {
    this.waiter?.();
  }

  /**
   * True when changes (or captured DDL) are pending and the stream has caught up: every transaction received is
   * complete, nothing is queued behind a catalog lookup, and the last socket read emptied the
   * socket. Cutting then costs no batching: nothing more is there to wait for.
   */
  private caughtUp(): boolean {
    const a = this.assembler;
    return (a.pendingCount > 0 || a.pendingDdlCount > 0) && !a.inTransaction && this.drained && !this.blocked && this.inbox.length === 0;
  }

  private onReadDone(more: boolean): void {
    this.drained = !more;
    if (this.waiter && this.caughtUp()) this.wake();
  }

  /** True when enough is decoded ahead: stop reading until the consumer takes a batch. */
  private backlogged(): boolean {
    return this.assembler.readyCount >= this.deps.maxReadyBatches && this.assembler.readyRows >= this.deps.readAheadRows;
  }

  private pause(reason: string): void {
    this.conn?.pause(reason);
  }

  private resume(reason: string): void {
    if (!this.stopped) this.conn?.resume(reason);
  }

  private onCopyData(buf: Buffer, start: number, end: number): void {
    if (this.error || this.stopped) return;
    if (this.blocked || this.inbox.length > 0) {
      this.inbox.push(Buffer.from(buf.subarray(start, end))); // the receive buffer is reused: keep a copy
      return;
    }
    try {
      this.handle(buf, start);
    } catch (e) {
      this.fail(e);
      return;
    }
    if (this.backlogged()) this.pause('backlog');
    if (this.waiter && (this.assembler.readyCount > 0 || (this.waiterWantsFirstChange && this.assembler.pendingCount > 0))) this.wake();
  }

  /** One CopyData message at `start` of `buf`. */
  private handle(buf: Buffer, start: number): void {
    const kind = buf[start];
    if (kind === XLOG_DATA) {
      const dataStart = readLsn(buf, start + 1);
      const tag = buf[start + XLOG_DATA_HEADER];
      if (tag === 0x49 || tag === 0x55 || tag === 0x44 /* I U D */) {
        if (dataStart > this.receivedLsn) this.receivedLsn = dataStart;
        this.assembler.onRowChange(buf, start + XLOG_DATA_HEADER, dataStart);
        return;
      }
      const m = parsePgoutput(buf, start + XLOG_DATA_HEADER);
      switch (m.tag) {
        case 'begin':
          this.assembler.onBegin(m);
          break;
        case 'commit': {
          const c = m;
          if (c.endLsn > this.receivedLsn) this.receivedLsn = c.endLsn;
          this.assembler.onCommit(c);
          break;
        }
        case 'relation':
          this.onRelation(m);
          break;
        case 'type':
          this.loader?.noteType(m);
          break;
        case 'truncate':
          if (dataStart > this.receivedLsn) this.receivedLsn = dataStart;
          this.assembler.onTruncate(m, dataStart);
          break;
        case 'message':
          // A non-transactional message (e.g. a heartbeat) outside a transaction is a safe position, like a keepalive.
          if (!m.transactional) this.assembler.onKeepalive(m.lsn);
          if (m.prefix === DDL_MESSAGE_PREFIX) this.assembler.onDdlMessage(m);
          break;
        default:
          break; // origin messages carry nothing for destinations
      }
    } else if (kind === KEEPALIVE) {
      const walEnd = buf.readBigUInt64BE(start + 1);
      if (walEnd > this.serverWalEnd) this.serverWalEnd = walEnd;
      if (buf[start + 17] === 1) this.sendStatus();
      this.assembler.onKeepalive(walEnd);
    }
  }

  private onRelation(m: RelationMessage): void {
    const loader = this.loader!;
    this.blocked = true;
    this.pause('relation');
    loader.load(m).then(
      (state) => {
        const previous = this.relations.get(m.relationId);
        if (previous && !sameTableSchema(previous.schema, state.schema) && this.assembler.pendingHasTable(previous.key)) this.assembler.cut();
        this.relations.set(m.relationId, state);
        this.blocked = false;
        this.drainInbox();
      },
      (e: unknown) => this.fail(e),
    );
  }

  private drainInbox(): void {
    let i = 0;
    try {
      while (!this.blocked && i < this.inbox.length && !this.error && !this.stopped) this.handle(this.inbox[i++]!, 0);
    } catch (e) {
      this.fail(e);
    }
    this.inbox = this.inbox.slice(i);
    if (!this.blocked) this.resume('relation');
    if (this.backlogged()) this.pause('backlog');
    if (this.assembler.readyCount > 0 || this.assembler.pendingCount > 0) this.wake();
  }
}
