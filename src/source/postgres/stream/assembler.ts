import type { Batch, CapturedDdl, Change, Row, TableSchema, Value } from '../../../core/change';
import { parseDdlMessage } from '../../../ddl/trigger';
import type { Lsn } from '../../../core/lsn';
import { PgoutputFormatError } from '../pgoutput/decoder';
import type { BeginMessage, CommitMessage, LogicalMessage, TruncateMessage } from '../pgoutput/messages';
import { TupleReader } from '../pgoutput/tuple';
import type { RelationState } from '../schema/relationState';

interface OpenTransaction {
  commitLsn: Lsn;
  commitTimeMicros: bigint;
  xid: number;
  seq: number;
}

/**
 * Turns decoded pgoutput messages into batches of {@link Change}s, synchronously and in stream
 * order. A batch is cut when it holds `batchSize` changes, when the caller decides its time is up
 * ({@link ChangeAssembler.cut}), or before a table's schema changes (so one batch has one schema
 * per table). Transactions may span batches.
 *
 * Checkpoints: `safeLsn` is the end LSN of the last complete transaction, or a keepalive position
 * received while no transaction was open and nothing was pending; each batch carries the value it
 * had when the batch was cut. Changes cut into a batch before their Commit arrived carry `commitEndLsn = 0` (not known
 * yet); the other changes carry their commit's end LSN.
 */
export class ChangeAssembler {
  private pending: Change[] = [];
  private pendingSchemas = new Map<string, TableSchema>();
  /** DDL captured by the event trigger, handed out with the next batch (full, partial or empty). */
  private pendingDdl: CapturedDdl[] = [];
  private lastRel: RelationState | undefined;
  /** Date.now() when the first change of `pending` arrived. */
  pendingSince = 0;
  private txStart = 0;
  private tx: OpenTransaction | null = null;
  private readonly ready: Batch[] = [];
  private readyChanges = 0;
  private readonly reader = new TupleReader();
  safeLsn: Lsn;
  /** Row changes (insert/update/delete/truncate) assembled so far. */
  changeCount = 0;

  constructor(
    private readonly flowId: string,
    private readonly batchSize: number,
    startLsn: Lsn,
    private readonly relations: ReadonlyMap<number, RelationState>,
  ) {
    this.safeLsn = startLsn;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  get readyCount(): number {
    return this.ready.length;
  }

  /** Changes in ready batches. */
  get readyRows(): number {
    return this.readyChanges;
  }

  get inTransaction(): boolean {
    return this.tx !== null;
  }

  takeReady(): Batch | undefined {
    const b = this.ready.shift();
    if (b) this.readyChanges -= b.changes.length;
    return b;
  }

  /** DDL statements captured by the event trigger and not yet handed out with a batch. */
  get pendingDdlCount(): number {
    return this.pendingDdl.length;
  }

  /** True when `pending` holds changes of the table `key`. */
  pendingHasTable(key: string): boolean {
    return this.pendingSchemas.has(key);
  }

  onBegin(m: BeginMessage): void {
    this.tx = { commitLsn: m.finalLsn, commitTimeMicros: m.commitTimeMicros, xid: m.xid, seq: 0 };
    this.txStart = this.pending.length;
  }

  onCommit(m: CommitMessage): void {
    const p = this.pending;
    for (let i = this.txStart; i < p.length; i++) p[i]!.commitEndLsn = m.endLsn;
    this.tx = null;
    this.txStart = p.length;
    if (m.endLsn > this.safeLsn) this.safeLsn = m.endLsn;
  }

  /**
   * A primary keepalive. Its position (the server has decoded and sent everything committed
   * before it) becomes the checkpoint when no transaction is open and every change received is
   * already in a cut batch, so a batch's checkpoint is the end of its last complete transaction.
   */
  onKeepalive(walEnd: Lsn): void {
    if (this.tx === null && this.pending.length === 0 && walEnd > this.safeLsn) this.safeLsn = walEnd;
  }

  /** An Insert, Update or Delete message at `offset` of `buf` (the pgoutput tag byte). */
  onRowChange(buf: Buffer, offset: number, lsn: Lsn): void {
    const tag = buf[offset]!;
    const rel = this.relationOf(buf.readUInt32BE(offset + 1));
    const tx = this.requireTransaction();
    if (rel.internal) return;
    const reader = this.reader;
    let pos = offset + 5;
    let op: Change['op'];
    let before: Row | null = null;
    let after: Row | null = null;
    let keyFromOld = false;
    let unchanged: string[];
    let marker = buf[pos];
    if (tag === 0x49 /* I */) {
      op = 'insert';
      after = reader.read(buf, pos + 1, rel);
      unchanged = reader.unchanged;
    } else if (tag === 0x55 /* U */) {
      op = 'update';
      if (marker === 0x4b /* K */ || marker === 0x4f /* O */) {
        before = reader.read(buf, pos + 1, rel, marker === 0x4b);
        keyFromOld = marker === 0x4b;
        pos = reader.end;
        marker = buf[pos];
      }
      if (marker !== 0x4e /* N */) throw new PgoutputFormatError('Update without a new tuple');
      after = reader.read(buf, pos + 1, rel);
      unchanged = reader.unchanged;
    } else {
      op = 'delete';
      if (marker !== 0x4b && marker !== 0x4f) throw new PgoutputFormatError('Delete without an old tuple');
      before = reader.read(buf, pos + 1, rel, marker === 0x4b);
      keyFromOld = marker === 0x4b;
      unchanged = reader.unchanged;
    }
    const key = keyOf(rel, after ?? before!, before, op === 'delete' && keyFromOld);
    this.push(rel, newChange(op, rel, lsn, tx, key, before, after, unchanged));
  }

  /** One truncate change per truncated (non-internal) table. */
  onTruncate(m: TruncateMessage, lsn: Lsn): void {
    const tx = this.requireTransaction();
    const truncateOptions = { cascade: (m.options & 1) === 1, restartIdentity: (m.options & 2) === 2 };
    for (const id of m.relationIds) {
      const rel = this.relationOf(id);
      if (rel.internal) continue;
      const change = newChange('truncate', rel, lsn, tx, {}, null, null, []);
      change.truncateOptions = { ...truncateOptions };
      this.push(rel, change);
    }
  }

  /** A logical message of the DDL event trigger (other prefixes are ignored by the caller). */
  onDdlMessage(m: LogicalMessage): void {
    const parsed = parseDdlMessage(m.content);
    if (!parsed) return;
    this.pendingDdl.push({
      lsn: this.tx?.commitLsn ?? m.lsn,
      seq: this.tx?.seq ?? 0,
      messageLsn: m.lsn,
      tag: parsed.tag,
      table: { schema: parsed.schema, name: parsed.table },
      ddl: parsed.ddl,
    });
  }

  /** Moves the pending changes into a ready batch (no-op when there are none). */
  cut(): void {
    const changes = this.pending;
    if (changes.length === 0) return;
    const ddl = this.takeDdl();
    this.ready.push({
      flowId: this.flowId,
      changes,
      schemas: this.pendingSchemas,
      firstLsn: changes[0]!.commitLsn,
      checkpointLsn: this.safeLsn,
      ...(ddl ? { ddl } : {}),
    });
    this.readyChanges += changes.length;
    this.pending = [];
    this.pendingSchemas = new Map();
    this.lastRel = undefined;
    this.txStart = 0;
  }

  /**
   * A batch without changes that carries the current checkpoint: after `batch_timeout` of silence,
   * or at once when only captured DDL is pending and the stream has caught up (a DDL-only batch).
   */
  emptyBatch(): Batch {
    const ddl = this.takeDdl();
    return { flowId: this.flowId, changes: [], schemas: new Map(), firstLsn: this.safeLsn, checkpointLsn: this.safeLsn, ...(ddl ? { ddl } : {}) };
  }

  private takeDdl(): CapturedDdl[] | undefined {
    if (this.pendingDdl.length === 0) return undefined;
    const out = this.pendingDdl;
    this.pendingDdl = [];
    return out;
  }

  private push(rel: RelationState, change: Change): void {
    const p = this.pending;
    if (p.length === 0) this.pendingSince = Date.now();
    if (rel !== this.lastRel) {
      if (!this.pendingSchemas.has(rel.key)) this.pendingSchemas.set(rel.key, rel.schema);
      this.lastRel = rel;
    }
    p.push(change);
    this.changeCount++;
    if (p.length >= this.batchSize) this.cut();
  }

  private relationOf(id: number): RelationState {
    const rel = this.relations.get(id);
    if (!rel) throw new PgoutputFormatError(`change for relation ${id} before its Relation message`);
    return rel;
  }

  private requireTransaction(): OpenTransaction {
    if (!this.tx) throw new PgoutputFormatError('change outside a transaction (Begin missing)');
    return this.tx;
  }
}

/**
 * The key of a change: the key columns (primary key, else replica identity) of `primary` (new row
 * for insert/update, old row for delete), falling back to `old` for a column left out of `primary`
 * (unchanged TOAST). When an old-key tuple lacks a primary key column (REPLICA IDENTITY USING INDEX
 * on other columns), the identity values it holds are the key.
 */
function keyOf(rel: RelationState, primary: Row, old: Row | null, oldIsKeyTuple: boolean): Row {
  const { keyIndexes, names } = rel;
  const values = keyScratch;
  for (let i = 0; i < keyIndexes.length; i++) {
    const name = names[keyIndexes[i]!]!;
    let v = primary[name];
    if (v === undefined && old !== null) v = old[name];
    if (v === undefined) return oldIsKeyTuple ? { ...primary } : keyRow(rel, values, i);
    values[i] = v;
  }
  return rel.buildKey ? rel.buildKey(values) : keyRow(rel, values, keyIndexes.length);
}

const keyScratch: Value[] = [];

/** The first `n` key columns of `rel` with `values`. */
function keyRow(rel: RelationState, values: Value[], n: number): Row {
  const key: Row = {};
  for (let i = 0; i < n; i++) key[rel.names[rel.keyIndexes[i]!]!] = values[i]!;
  return key;
}

/**
 * A change of the open transaction `tx` at `lsn`, numbered by the transaction's next `seq`; its
 * commit end is not known until the Commit arrives. One constructor keeps every change one shape.
 */
function newChange(
  op: Change['op'],
  rel: RelationState,
  lsn: Lsn,
  tx: OpenTransaction,
  key: Row,
  before: Row | null,
  after: Row | null,
  unchangedToast: string[],
): Change {
  return {
    op,
    table: rel.ref,
    lsn,
    commitLsn: tx.commitLsn,
    commitEndLsn: 0n,
    commitTimeMicros: tx.commitTimeMicros,
    xid: tx.xid,
    seq: tx.seq++,
    key,
    before,
    after,
    unchangedToast,
  };
}
