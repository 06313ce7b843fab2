/**
 * Latency instruments shared by bench/latency.ts and bench/many-flows.ts: a decorator that records,
 * per flow, when each change was acknowledged by its destination, and a raw pgoutput tail that
 * records when each change reaches a bare replication client (the baseline: no decoding, no DBOS).
 * Latency = that moment minus the change's commit time in the WAL (same machine clock).
 */
import type { Destination, EncodedBatch } from '../src/destinations/destination';
import { getDestinationKind, registerDestinationKind } from '../src/destinations/registry';
import { XLOG_DATA, XLOG_DATA_HEADER, KEEPALIVE, standbyStatusUpdate } from '../src/source/postgres/pgoutput/framing';
import { ReplicationConnection } from '../src/source/postgres/stream/replicationConnection';

export interface LatencySink {
  latenciesMs: number[];
  rows: number;
  lastAckAt: number;
}

const sinks = new Map<string, LatencySink>();

export function sinkOf(flowId: string): LatencySink {
  let s = sinks.get(flowId);
  if (!s) sinks.set(flowId, (s = { latenciesMs: [], rows: 0, lastAckAt: 0 }));
  return s;
}

const timed = new Set<string>();

/** Re-registers destination kind `type` so every destination it creates records per change when its write was acknowledged. */
export function timeDestinationKind(type: string): void {
  if (timed.has(type)) return;
  timed.add(type);
  const real = getDestinationKind(type, 'type');
  registerDestinationKind({
    ...real,
    async create(config, ctx) {
      const inner: Destination = await real.create(config, ctx);
      const sink = sinkOf(ctx.flowId);
      return {
        name: inner.name,
        kind: inner.kind,
        open: () => inner.open(),
        close: () => inner.close(),
        async write(batch: EncodedBatch) {
          await inner.write(batch);
          const now = Date.now();
          const nowMicros = BigInt(now) * 1000n;
          for (const c of batch.changes) sink.latenciesMs.push(Number(nowMicros - c.commitTimeMicros) / 1000);
          sink.rows += batch.changes.length;
          sink.lastAckAt = now;
        },
      };
    },
  });
}

/** Microseconds from the Unix epoch to PostgreSQL's (2000-01-01). */
const PG_EPOCH_MICROS = 946_684_800_000_000n;

export interface RawTail {
  sink: LatencySink;
  stop(): Promise<void>;
}

/**
 * Streams `slot` from its current position with pgoutput and records, for every row change, the
 * time its transaction's Commit message arrived minus its commit time: what any pgoutput client
 * sees at best. Reads only message tags and the commit timestamp.
 */
export async function startRawTail(dsn: string, slot: string, publication: string): Promise<RawTail> {
  const sink: LatencySink = { latenciesMs: [], rows: 0, lastAckAt: 0 };
  const conn = await ReplicationConnection.open(dsn, 'dsn', 'bench-raw-tail', () => undefined);
  let inTx = 0;
  conn.coalesceSmallReads();
  await conn.start(slot, publication, 0n, {
    onCopyData: (buf, start) => {
      if (buf[start] === XLOG_DATA) {
        const at = start + XLOG_DATA_HEADER;
        const tag = buf[at];
        if (tag === 0x49 || tag === 0x55 || tag === 0x44) inTx++;
        else if (tag === 0x43 /* C */) {
          const commitMicros = buf.readBigInt64BE(at + 18) + PG_EPOCH_MICROS;
          const now = Date.now();
          const ms = Number(BigInt(now) * 1000n - commitMicros) / 1000;
          for (let i = 0; i < inTx; i++) sink.latenciesMs.push(ms);
          sink.rows += inTx;
          sink.lastAckAt = now;
          inTx = 0;
        }
      } else if (buf[start] === KEEPALIVE && buf[start + 17] === 1) conn.send(standbyStatusUpdate(0n));
    },
    onFailure: () => undefined,
  });
  return { sink, stop: () => conn.stop() };
}
