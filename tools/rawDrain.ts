import { DuctError } from '../src/core/errors';
import { parseLsn, type Lsn } from '../src/core/lsn';
import { catalogQueryOf } from '../src/source/postgres/catalogQuery';
import { connectClient, endQuietly } from '../src/source/postgres/connect';
import { streamError } from '../src/source/postgres/errors';
import { KEEPALIVE, XLOG_DATA, XLOG_DATA_HEADER, standbyStatusUpdate } from '../src/source/postgres/pgoutput/framing';
import { ReplicationConnection } from '../src/source/postgres/stream/replicationConnection';
import { readSlot } from '../src/source/postgres/stream/slotInfo';

/** Prefix of the logical message that marks where a drain stops. */
export const DRAIN_MARKER = 'ductstream_drain_marker';

export interface RawDrainOptions {
  dsn: string;
  slot: string;
  publication: string;
  /** Acknowledge the end position when done, so the slot advances (default true). */
  ack?: boolean;
  /** Give up after this long (default 10 minutes). */
  timeoutMs?: number;
}

export interface RawDrainResult {
  /** Insert/update/delete messages received. */
  rows: number;
  transactions: number;
  /** CopyData messages and their bytes. */
  messages: number;
  bytes: number;
  elapsedMs: number;
  rowsPerSecond: number;
  /** The WAL position the drain ran up to (its end marker, written when it started). */
  targetLsn: Lsn;
  /** What was acknowledged (0 when `ack` is false). */
  ackedLsn: Lsn;
}

/**
 * Measures the raw drain rate of a slot: streams it with pgoutput (same options as the source),
 * reads and discards every message up to the server's current WAL end (marked by a logical
 * message it emits first, prefix {@link DRAIN_MARKER}), acknowledges at the end.
 * Decodes nothing but the message tags, so it is the baseline the source's throughput compares to.
 */
export async function measureRawDrain(opts: RawDrainOptions): Promise<RawDrainResult> {
  const field = 'dsn';
  const catalog = await connectClient(opts.dsn, field, { applicationName: 'ductstream-drain' });
  let target: Lsn;
  try {
    const query = catalogQueryOf(catalog);
    await readSlot(query, opts.slot);
    // A non-transactional logical message marks the end: it reaches the stream right after every
    // transaction that committed before it (pg_current_wal_lsn() is the *written* position and can
    // lag behind commits when synchronous_commit=off).
    target = parseLsn((await query<{ lsn: string }>(`SELECT pg_logical_emit_message(false, $1, '')::text AS lsn`, [DRAIN_MARKER]))[0]!.lsn);
  } finally {
    await endQuietly(catalog);
  }
  let failure: unknown;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const conn = await ReplicationConnection.open(opts.dsn, field, 'ductstream-drain', (e) => {
    failure = e;
    finish();
  });
  let rows = 0;
  let transactions = 0;
  let messages = 0;
  let bytes = 0;
  let reached: Lsn = 0n;
  const started = Date.now();
  const onCopyData = (buf: Buffer, start: number, end: number): void => {
    messages++;
    bytes += end - start;
    if (buf[start] === XLOG_DATA) {
      const tag = buf[start + XLOG_DATA_HEADER];
      if (tag === 0x49 || tag === 0x55 || tag === 0x44) rows++;
      else if (tag === 0x43 /* C */) {
        transactions++;
        const commitEnd = buf.readBigUInt64BE(start + XLOG_DATA_HEADER + 10);
        if (commitEnd > reached) reached = commitEnd;
      } else if (tag === 0x4d /* M */) {
        const lsn = buf.readBigUInt64BE(start + XLOG_DATA_HEADER + 2);
        if (lsn >= target) {
          if (lsn > reached) reached = lsn;
          finish();
        }
      }
    } else if (buf[start] === KEEPALIVE) {
      const walEnd = buf.readBigUInt64BE(start + 1);
      if (buf[start + 17] === 1) conn.send(standbyStatusUpdate(0n));
      if (walEnd > target) {
        if (walEnd > reached) reached = walEnd;
        finish();
      }
    }
  };
  const timer = setTimeout(() => {
    failure = new DuctError('unavailable', `draining slot ${opts.slot} did not reach its end within ${opts.timeoutMs ?? 600_000} ms`, { retry: 'transient' });
    finish();
  }, opts.timeoutMs ?? 600_000);
  try {
    conn.coalesceSmallReads();
    await conn.start(opts.slot, opts.publication, 0n, {
      onCopyData,
      onFailure: (e) => {
        failure = e;
        finish();
      },
    });
    await done;
    const elapsedMs = Date.now() - started;
    if (failure !== undefined) throw streamError(failure, opts.slot);
    const ackedLsn = opts.ack === false ? 0n : reached;
    if (ackedLsn > 0n) conn.send(standbyStatusUpdate(ackedLsn));
    return { rows, transactions, messages, bytes, elapsedMs, rowsPerSecond: elapsedMs > 0 ? (rows * 1000) / elapsedMs : rows, targetLsn: target, ackedLsn };
  } catch (e) {
    throw streamError(e, opts.slot);
  } finally {
    clearTimeout(timer);
    await conn.stop();
  }
}
