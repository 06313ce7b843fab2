import { tableKey, type Change, type Row } from '../../src/core/change';
import { DuctError, type RetryClass } from '../../src/core/errors';
import { OptionReader, type OptionMap } from '../../src/config/options';
import type { EncodedBatch, TableDestination } from '../../src/destinations/destination';
import { registerDestinationKind, type DestinationKind } from '../../src/destinations/registry';

/**
 * A table destination for tests that injects faults into chosen writes. It keeps its rows in
 * memory, in a {@link Sink} that outlives the destination objects (a failed step closes them and its
 * retry creates new ones), and applies changes the way a transactional table destination does: a
 * per-table watermark (commit LSN, seq) skips any change at or below what the table already holds,
 * so replays and late writes have no effect.
 *
 * Writes are numbered from 1 per sink, across every destination object of the sink. Options (lists
 * are write numbers, comma-separated):
 * - `sink`: the sink's name (default `<flow>/<destination>`);
 * - `fail_writes`: these writes throw before applying anything, with retry class `fail_class`
 *   (`transient` default, or `never`: the flow fails);
 * - `hang_writes`: these writes hang past their `deadline` (default 300ms) and then throw a transient
 *   timeout, as a client giving up on a peer that does not answer; the hung work applies the batch
 *   `late_by` (default 1500ms) after the deadline, as a peer that finally processes the request;
 * - `fail_after_commit_writes`: these writes apply the batch durably, then throw a transient error
 *   before returning;
 * - `duplicate_writes`: these writes apply the batch twice and return normally.
 */
export interface Delivery {
  /** The write number, 1-based. */
  write: number;
  /** `(commitLsn, seq)` of each change, as `<commitLsn>:<seq>`. */
  positions: string[];
  /** How the batch reached the rows: on time, after its write gave up (late), or not at all (failed). */
  how: 'applied' | 'duplicate' | 'late' | 'failed';
  /** Changes the watermark skipped. */
  skipped: number;
}

export interface Sink {
  writes: number;
  deliveries: Delivery[];
  /** Rows per table (`schema.table`), keyed by the primary key as JSON. */
  tables: Map<string, Map<string, Row>>;
  /** Per table: the stream position of the last applied change. */
  watermarks: Map<string, { commitLsn: bigint; seq: number }>;
  /** Hung writes still to land. */
  pending: Set<Promise<void>>;
}

const sinks = new Map<string, Sink>();

export function sinkOf(name: string): Sink {
  let s = sinks.get(name);
  if (!s) {
    s = { writes: 0, deliveries: [], tables: new Map(), watermarks: new Map(), pending: new Set() };
    sinks.set(name, s);
  }
  return s;
}

/** The rows of a table as `{column: text}` objects sorted by the first column (numbers compared as numbers). */
export function sinkRows(sink: Sink, table: string): Array<Record<string, string>> {
  const rows = [...(sink.tables.get(table)?.values() ?? [])].map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v)])));
  const first = (r: Record<string, string>): string => Object.values(r)[0] ?? '';
  return rows.sort((a, b) => Number(first(a)) - Number(first(b)) || first(a).localeCompare(first(b)));
}

/** Every distinct position delivered (applied or not), for "nothing lost" checks. */
export function deliveredPositions(sink: Sink): Set<string> {
  return new Set(sink.deliveries.filter((d) => d.how !== 'failed').flatMap((d) => d.positions));
}

interface FaultyConfig {
  sink: string | undefined;
  failWrites: number[];
  failClass: RetryClass;
  hangWrites: number[];
  deadlineMs: number;
  lateByMs: number;
  failAfterCommitWrites: number[];
  duplicateWrites: number[];
}

function writeList(r: OptionReader, key: string): number[] {
  return r.list(key).map((w) => {
    if (!/^\d+$/.test(w)) throw new DuctError('invalid_argument', `${r.field(key)}: "${w}" is not a write number`, { retry: 'never' });
    return Number(w);
  });
}

function parseConfig(options: OptionMap, path: string): FaultyConfig {
  const r = new OptionReader(options, path);
  const config: FaultyConfig = {
    sink: r.optionalString('sink'),
    failWrites: writeList(r, 'fail_writes'),
    failClass: r.oneOf('fail_class', ['transient', 'never'] as const, 'transient'),
    hangWrites: writeList(r, 'hang_writes'),
    deadlineMs: r.durationMs('deadline', 300),
    lateByMs: r.durationMs('late_by', 1500),
    failAfterCommitWrites: writeList(r, 'fail_after_commit_writes'),
    duplicateWrites: writeList(r, 'duplicate_writes'),
  };
  r.accept('format');
  r.rejectUnknown();
  return config;
}

const position = (c: Change): string => `${c.commitLsn}:${c.seq}`;
const keyOf = (c: Change): string => JSON.stringify(c.key, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Applies a batch under the per-table watermark; returns how many changes it skipped. */
function apply(sink: Sink, changes: readonly Change[]): number {
  let skipped = 0;
  for (const c of changes) {
    const t = tableKey(c.table);
    const mark = sink.watermarks.get(t);
    if (mark && (c.commitLsn < mark.commitLsn || (c.commitLsn === mark.commitLsn && c.seq <= mark.seq))) {
      skipped++;
      continue;
    }
    let rows = sink.tables.get(t);
    if (!rows) sink.tables.set(t, (rows = new Map()));
    if (c.op === 'truncate') rows.clear();
    else if (c.op === 'delete') rows.delete(keyOf(c));
    else {
      const oldKey = c.before ? keyOf({ ...c, key: Object.fromEntries(Object.keys(c.key).map((k) => [k, c.before![k] ?? null])) }) : undefined;
      if (oldKey !== undefined && oldKey !== keyOf(c)) rows.delete(oldKey);
      rows.set(keyOf(c), { ...rows.get(keyOf(c)), ...c.after });
    }
    sink.watermarks.set(t, { commitLsn: c.commitLsn, seq: c.seq });
  }
  return skipped;
}

class FaultyDestination implements TableDestination {
  readonly kind = 'faulty';
  readonly applies = 'transactional' as const;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly config: FaultyConfig,
    private readonly sink: Sink,
  ) {}

  open(): Promise<void> {
    this.closed = false;
    return Promise.resolve();
  }

  async write(batch: EncodedBatch): Promise<void> {
    if (this.closed) throw new DuctError('internal', `faulty destination "${this.name}" written after close`, { retry: 'never' });
    const n = ++this.sink.writes;
    const positions = batch.changes.map(position);
    const record = (how: Delivery['how'], skipped = 0): void => {
      this.sink.deliveries.push({ write: n, positions, how, skipped });
    };
    const c = this.config;
    if (c.failWrites.includes(n)) {
      record('failed');
      throw new DuctError('destination_failed', `faulty destination "${this.name}": write ${n} fails`, { retry: c.failClass });
    }
    if (c.hangWrites.includes(n)) {
      const late = sleep(c.deadlineMs + c.lateByMs).then(() => record('late', apply(this.sink, batch.changes)));
      this.sink.pending.add(late);
      void late.finally(() => this.sink.pending.delete(late));
      await sleep(c.deadlineMs);
      throw new DuctError('destination_failed', `faulty destination "${this.name}": write ${n} timed out after ${c.deadlineMs}ms`, { retry: 'transient' });
    }
    record('applied', apply(this.sink, batch.changes));
    if (c.duplicateWrites.includes(n)) record('duplicate', apply(this.sink, batch.changes));
    if (c.failAfterCommitWrites.includes(n)) {
      throw new DuctError('destination_failed', `faulty destination "${this.name}": write ${n} committed, then the connection dropped`, {
        retry: 'transient',
      });
    }
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

export const faultyDestinationKind: DestinationKind<FaultyConfig> = {
  kind: 'faulty',
  usesWireFormat: false,
  parseConfig,
  create: (config, ctx) => Promise.resolve(new FaultyDestination(ctx.name, config, sinkOf(config.sink ?? `${ctx.flowId}/${ctx.name}`))),
};

/** Makes `type: "faulty"` available to flows of this process. */
export function registerFaultyDestination(): void {
  registerDestinationKind(faultyDestinationKind);
}
