import { PG_EPOCH_OFFSET_MICROS, UNCHANGED_TOAST, type PgoutputMessage, type RawTuple, type RelationColumn } from './messages';

/**
 * Decodes one pgoutput message (protocol version 1) starting at `offset` of `buf` (after the
 * XLogData header). Streaming (v2+) messages are rejected: the source never asks for them.
 * The hot path for row changes is in tuple.ts; this decoder is for everything else and tests.
 */

export class PgoutputFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PgoutputFormatError';
  }
}

/** Reads a NUL-terminated UTF-8 string; returns it and the offset after the NUL. */
export function readCString(buf: Buffer, pos: number): [string, number] {
  const end = buf.indexOf(0, pos);
  if (end < 0) throw new PgoutputFormatError('unterminated string in pgoutput message');
  return [buf.toString('utf8', pos, end), end + 1];
}

/** Reads TupleData into raw text values; returns the tuple and the offset after it. */
export function readRawTuple(buf: Buffer, pos: number): [RawTuple, number] {
  const n = buf.readUInt16BE(pos);
  pos += 2;
  const out: RawTuple = new Array<RawTuple[number]>(n);
  for (let i = 0; i < n; i++) {
    const kind = buf[pos++];
    if (kind === 0x6e /* n */) {
      out[i] = null;
    } else if (kind === 0x75 /* u */) {
      out[i] = UNCHANGED_TOAST;
    } else if (kind === 0x74 /* t */ || kind === 0x62 /* b */) {
      const len = buf.readInt32BE(pos);
      pos += 4;
      out[i] = buf.toString(kind === 0x74 ? 'utf8' : 'hex', pos, pos + len);
      pos += len;
    } else {
      throw new PgoutputFormatError(`unknown tuple value kind 0x${(kind ?? 0).toString(16)}`);
    }
  }
  return [out, pos];
}

function readTimestamp(buf: Buffer, pos: number): bigint {
  return buf.readBigInt64BE(pos) + PG_EPOCH_OFFSET_MICROS;
}

export function parsePgoutput(buf: Buffer, offset = 0): PgoutputMessage {
  const tag = buf[offset];
  let pos = offset + 1;
  switch (tag) {
    case 0x42 /* B */:
      return { tag: 'begin', finalLsn: buf.readBigUInt64BE(pos), commitTimeMicros: readTimestamp(buf, pos + 8), xid: buf.readUInt32BE(pos + 16) };
    case 0x43 /* C */:
      return {
        tag: 'commit',
        flags: buf[pos]!,
        commitLsn: buf.readBigUInt64BE(pos + 1),
        endLsn: buf.readBigUInt64BE(pos + 9),
        commitTimeMicros: readTimestamp(buf, pos + 17),
      };
    case 0x4f /* O */: {
      const commitLsn = buf.readBigUInt64BE(pos);
      const [name] = readCString(buf, pos + 8);
      return { tag: 'origin', commitLsn, name };
    }
    case 0x52 /* R */: {
      const relationId = buf.readUInt32BE(pos);
      let schema: string;
      let name: string;
      [schema, pos] = readCString(buf, pos + 4);
      [name, pos] = readCString(buf, pos);
      const replicaIdentity = String.fromCharCode(buf[pos]!);
      const ncols = buf.readUInt16BE(pos + 1);
      pos += 3;
      const columns: RelationColumn[] = [];
      for (let i = 0; i < ncols; i++) {
        const flags = buf[pos]!;
        let colName: string;
        [colName, pos] = readCString(buf, pos + 1);
        columns.push({ flags, name: colName, typeOid: buf.readUInt32BE(pos), typmod: buf.readInt32BE(pos + 4) });
        pos += 8;
      }
      return { tag: 'relation', relationId, schema: schema === '' ? 'pg_catalog' : schema, name, replicaIdentity, columns };
    }
    case 0x59 /* Y */: {
      const typeOid = buf.readUInt32BE(pos);
      let schema: string;
      [schema, pos] = readCString(buf, pos + 4);
      const [name] = readCString(buf, pos);
      return { tag: 'type', typeOid, schema: schema === '' ? 'pg_catalog' : schema, name };
    }
    case 0x49 /* I */: {
      const relationId = buf.readUInt32BE(pos);
      if (buf[pos + 4] !== 0x4e /* N */) throw new PgoutputFormatError('Insert without a new tuple');
      const [newTuple] = readRawTuple(buf, pos + 5);
      return { tag: 'insert', relationId, newTuple };
    }
    case 0x55 /* U */: {
      const relationId = buf.readUInt32BE(pos);
      pos += 4;
      let oldKind: 'K' | 'O' | null = null;
      let oldTuple: RawTuple | null = null;
      const marker = buf[pos];
      if (marker === 0x4b /* K */ || marker === 0x4f /* O */) {
        oldKind = marker === 0x4b ? 'K' : 'O';
        [oldTuple, pos] = readRawTuple(buf, pos + 1);
      }
      if (buf[pos] !== 0x4e /* N */) throw new PgoutputFormatError('Update without a new tuple');
      const [newTuple] = readRawTuple(buf, pos + 1);
      return { tag: 'update', relationId, oldKind, oldTuple, newTuple };
    }
    case 0x44 /* D */: {
      const relationId = buf.readUInt32BE(pos);
      const marker = buf[pos + 4];
      if (marker !== 0x4b && marker !== 0x4f) throw new PgoutputFormatError('Delete without an old tuple');
      const [oldTuple] = readRawTuple(buf, pos + 5);
      return { tag: 'delete', relationId, oldKind: marker === 0x4b ? 'K' : 'O', oldTuple };
    }
    case 0x54 /* T */: {
      const n = buf.readUInt32BE(pos);
      const options = buf[pos + 4]!;
      pos += 5;
      const relationIds: number[] = [];
      for (let i = 0; i < n; i++, pos += 4) relationIds.push(buf.readUInt32BE(pos));
      return { tag: 'truncate', options, relationIds };
    }
    case 0x4d /* M */: {
      const flags = buf[pos]!;
      const lsn = buf.readBigUInt64BE(pos + 1);
      let prefix: string;
      [prefix, pos] = readCString(buf, pos + 9);
      const len = buf.readUInt32BE(pos);
      pos += 4;
      return { tag: 'message', transactional: (flags & 1) === 1, lsn, prefix, content: Buffer.from(buf.subarray(pos, pos + len)) };
    }
    default:
      throw new PgoutputFormatError(
        `unsupported pgoutput message '${tag === undefined ? '' : String.fromCharCode(tag)}' (only protocol version 1 without streaming is supported)`,
      );
  }
}
