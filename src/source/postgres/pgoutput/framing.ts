import type { Lsn } from '../../../core/lsn';
import { PG_EPOCH_OFFSET_MICROS } from './messages';

/**
 * The streaming replication sub-protocol inside CopyData (PostgreSQL docs, "Streaming Replication
 * Protocol"): the server sends XLogData (`w`) and primary keepalives (`k`); the client sends
 * standby status updates (`r`).
 */

export const XLOG_DATA = 0x77; // 'w'
export const KEEPALIVE = 0x6b; // 'k'
/** Bytes before the pgoutput message inside an XLogData: tag, dataStart, walEnd, sendTime. */
export const XLOG_DATA_HEADER = 25;

export interface XLogDataHeader {
  /** Where this message's WAL data starts (the change's LSN). */
  dataStart: Lsn;
  /** The server's current end of WAL. */
  walEnd: Lsn;
  sendTimeMicros: bigint;
}

export interface Keepalive {
  /** The server's current end of WAL (what it has sent up to). */
  walEnd: Lsn;
  sendTimeMicros: bigint;
  replyRequested: boolean;
}

/**
 * The unsigned 64-bit WAL position at `pos` of `buf`, as `readBigUInt64BE` reads it but with one
 * bigint allocated instead of three when it is below 2^53 (always, in practice: 8 PB of WAL).
 */
export function readLsn(buf: Buffer, pos: number): Lsn {
  const hi = buf.readUInt32BE(pos);
  return hi < 0x200000 ? BigInt(hi * 0x1_0000_0000 + buf.readUInt32BE(pos + 4)) : buf.readBigUInt64BE(pos);
}

export function parseXLogDataHeader(chunk: Buffer): XLogDataHeader {
  if (chunk.length < XLOG_DATA_HEADER || chunk[0] !== XLOG_DATA) throw new Error('not an XLogData message');
  return {
    dataStart: chunk.readBigUInt64BE(1),
    walEnd: chunk.readBigUInt64BE(9),
    sendTimeMicros: chunk.readBigInt64BE(17) + PG_EPOCH_OFFSET_MICROS,
  };
}

export function parseKeepalive(chunk: Buffer): Keepalive {
  if (chunk.length < 18 || chunk[0] !== KEEPALIVE) throw new Error('not a primary keepalive message');
  return {
    walEnd: chunk.readBigUInt64BE(1),
    sendTimeMicros: chunk.readBigInt64BE(9) + PG_EPOCH_OFFSET_MICROS,
    replyRequested: chunk[17] === 1,
  };
}

/**
 * A standby status update: written = flushed = applied = `lsn`. PostgreSQL moves the slot's
 * confirmed_flush_lsn to the flushed position, so `lsn` must be durable downstream. An `lsn` of 0
 * tells the server nothing about progress (a pure liveness reply).
 */
export function standbyStatusUpdate(lsn: Lsn, nowMillis = Date.now(), replyRequested = false): Buffer {
  const buf = Buffer.allocUnsafe(34);
  buf[0] = 0x72; // 'r'
  buf.writeBigUInt64BE(lsn, 1);
  buf.writeBigUInt64BE(lsn, 9);
  buf.writeBigUInt64BE(lsn, 17);
  buf.writeBigInt64BE(BigInt(nowMillis) * 1000n - PG_EPOCH_OFFSET_MICROS, 25);
  buf[33] = replyRequested ? 1 : 0;
  return buf;
}
