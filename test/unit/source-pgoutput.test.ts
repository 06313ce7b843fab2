import type { Batch } from '../../src/core/change';
import { parsePgoutput, PgoutputFormatError } from '../../src/source/postgres/pgoutput/decoder';
import { parseKeepalive, parseXLogDataHeader, readLsn, standbyStatusUpdate, XLOG_DATA_HEADER } from '../../src/source/postgres/pgoutput/framing';
import { PG_EPOCH_OFFSET_MICROS, UNCHANGED_TOAST, type RelationMessage } from '../../src/source/postgres/pgoutput/messages';
import { TupleReader } from '../../src/source/postgres/pgoutput/tuple';
import { buildRelationState, type RelationState } from '../../src/source/postgres/schema/relationState';
import { ChangeAssembler } from '../../src/source/postgres/stream/assembler';
import { CopyDataFramer } from '../../src/source/postgres/stream/copyDataFramer';
import { TypeRegistry } from '../../src/source/postgres/types/resolver';

/** Builds pgoutput messages byte by byte, as the server sends them. */
class Msg {
  private parts: Buffer[] = [];
  byte(b: number | string): this {
    this.parts.push(Buffer.from([typeof b === 'string' ? b.charCodeAt(0) : b]));
    return this;
  }
  int16(n: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(n);
    this.parts.push(b);
    return this;
  }
  int32(n: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    this.parts.push(b);
    return this;
  }
  int64(n: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(n);
    this.parts.push(b);
    return this;
  }
  str(s: string): this {
    this.parts.push(Buffer.from(s + '\0'));
    return this;
  }
  /** 'TOAST' marks an unchanged TOASTed value. */
  tuple(values: Array<string | null>): this {
    this.int16(values.length);
    for (const v of values) {
      if (v === null) this.byte('n');
      else if (v === 'TOAST') this.byte('u');
      else {
        const b = Buffer.from(v);
        this.byte('t').int32(b.length);
        this.parts.push(b);
      }
    }
    return this;
  }
  build(): Buffer {
    return Buffer.concat(this.parts);
  }
  /** Wrapped in an XLogData header with dataStart `lsn`. */
  xlog(lsn: bigint): Buffer {
    const body = this.build();
    const h = Buffer.alloc(XLOG_DATA_HEADER);
    h[0] = 0x77;
    h.writeBigUInt64BE(lsn, 1);
    h.writeBigUInt64BE(lsn, 9);
    h.writeBigInt64BE(0n, 17);
    return Buffer.concat([h, body]);
  }
}

// 2024-01-02T03:04:05.123456Z in PostgreSQL's epoch (microseconds since 2000-01-01).
const COMMIT_UNIX_MICROS = 1704164645123456n;
const COMMIT_PG_MICROS = COMMIT_UNIX_MICROS - PG_EPOCH_OFFSET_MICROS;

const begin = (finalLsn: bigint, xid: number): Msg => new Msg().byte('B').int64(finalLsn).int64(COMMIT_PG_MICROS).int32(xid);
const commit = (commitLsn: bigint, endLsn: bigint): Msg => new Msg().byte('C').byte(0).int64(commitLsn).int64(endLsn).int64(COMMIT_PG_MICROS);

function relationMsg(id: number, identity = 'd'): Msg {
  return new Msg()
    .byte('R')
    .int32(id)
    .str('public')
    .str('items')
    .byte(identity)
    .int16(4)
    .byte(1)
    .str('id')
    .int32(20)
    .int32(-1)
    .byte(0)
    .str('name')
    .int32(25)
    .int32(-1)
    .byte(0)
    .str('price')
    .int32(1700)
    .int32(-1)
    .byte(0)
    .str('at')
    .int32(1184)
    .int32(-1);
}

function relationState(identity = 'd'): RelationState {
  const rel = parsePgoutput(relationMsg(16400, identity).build()) as RelationMessage;
  return buildRelationState(
    rel,
    { found: true, notNull: new Set(['id']), primaryKey: ['id'], types: [] },
    new TypeRegistry(false),
    new Set(['ductstream']),
    new Map(),
  );
}

describe('framing', () => {
  test('XLogData header and keepalive', () => {
    const x = new Msg().byte('B').xlog(0x16b6c50n);
    expect(parseXLogDataHeader(x)).toMatchObject({ dataStart: 0x16b6c50n, walEnd: 0x16b6c50n, sendTimeMicros: PG_EPOCH_OFFSET_MICROS });
    const k = new Msg().byte('k').int64(0x100000020n).int64(COMMIT_PG_MICROS).byte(1).build();
    expect(parseKeepalive(k)).toEqual({ walEnd: 0x100000020n, sendTimeMicros: COMMIT_UNIX_MICROS, replyRequested: true });
    expect(() => parseKeepalive(x)).toThrow();
  });

  test('standby status update reports write = flush = apply', () => {
    const b = standbyStatusUpdate(0xabcdef01234n, Date.UTC(2000, 0, 1, 0, 0, 1));
    expect(b.length).toBe(34);
    expect(String.fromCharCode(b[0]!)).toBe('r');
    expect(b.readBigUInt64BE(1)).toBe(0xabcdef01234n);
    expect(b.readBigUInt64BE(9)).toBe(0xabcdef01234n);
    expect(b.readBigUInt64BE(17)).toBe(0xabcdef01234n);
    expect(b.readBigInt64BE(25)).toBe(1_000_000n);
    expect(b[33]).toBe(0);
  });
});

describe('pgoutput decoder', () => {
  test('Begin and Commit with timestamps from the PostgreSQL epoch', () => {
    expect(parsePgoutput(begin(0x500n, 777).build())).toEqual({ tag: 'begin', finalLsn: 0x500n, commitTimeMicros: COMMIT_UNIX_MICROS, xid: 777 });
    expect(parsePgoutput(commit(0x500n, 0x530n).build())).toEqual({
      tag: 'commit',
      flags: 0,
      commitLsn: 0x500n,
      endLsn: 0x530n,
      commitTimeMicros: COMMIT_UNIX_MICROS,
    });
    expect(new Date(Number(COMMIT_UNIX_MICROS / 1000n)).toISOString()).toBe('2024-01-02T03:04:05.123Z');
  });

  test('Relation, Type, Origin, Message, Truncate', () => {
    const rel = parsePgoutput(relationMsg(16400, 'f').build()) as RelationMessage;
    expect(rel).toMatchObject({ tag: 'relation', relationId: 16400, schema: 'public', name: 'items', replicaIdentity: 'f' });
    expect(rel.columns[0]).toEqual({ flags: 1, name: 'id', typeOid: 20, typmod: -1 });
    expect(rel.columns.map((c) => c.name)).toEqual(['id', 'name', 'price', 'at']);
    const catalogRel = parsePgoutput(new Msg().byte('R').int32(1).str('').str('pg_class').byte('n').int16(0).build());
    expect(catalogRel).toMatchObject({ schema: 'pg_catalog', columns: [] });
    expect(parsePgoutput(new Msg().byte('Y').int32(70000).str('public').str('mood').build())).toEqual({
      tag: 'type',
      typeOid: 70000,
      schema: 'public',
      name: 'mood',
    });
    expect(parsePgoutput(new Msg().byte('O').int64(0x10n).str('node_a').build())).toEqual({ tag: 'origin', commitLsn: 0x10n, name: 'node_a' });
    const m = parsePgoutput(new Msg().byte('M').byte(1).int64(0x99n).str('ductstream_ddl').int32(3).byte(0).byte(0x41).byte(0x42).build());
    expect(m).toMatchObject({ tag: 'message', transactional: true, lsn: 0x99n, prefix: 'ductstream_ddl' });
    expect([...(m as { content: Buffer }).content]).toEqual([0, 0x41, 0x42]);
    expect(parsePgoutput(new Msg().byte('T').int32(2).byte(3).int32(10).int32(11).build())).toEqual({ tag: 'truncate', options: 3, relationIds: [10, 11] });
  });

  test('Insert, Update (K and O), Delete with NULL, unchanged TOAST and unicode', () => {
    expect(parsePgoutput(new Msg().byte('I').int32(5).byte('N').tuple(['1', null, 'ü ✓', 'TOAST']).build())).toEqual({
      tag: 'insert',
      relationId: 5,
      newTuple: ['1', null, 'ü ✓', UNCHANGED_TOAST],
    });
    expect(parsePgoutput(new Msg().byte('U').int32(5).byte('K').tuple(['1', null]).byte('N').tuple(['2', 'x']).build())).toEqual({
      tag: 'update',
      relationId: 5,
      oldKind: 'K',
      oldTuple: ['1', null],
      newTuple: ['2', 'x'],
    });
    expect(parsePgoutput(new Msg().byte('U').int32(5).byte('N').tuple(['2', 'y']).build())).toMatchObject({ oldKind: null, oldTuple: null });
    expect(parsePgoutput(new Msg().byte('D').int32(5).byte('O').tuple(['1', 'a']).build())).toEqual({
      tag: 'delete',
      relationId: 5,
      oldKind: 'O',
      oldTuple: ['1', 'a'],
    });
  });

  test('streaming (protocol 2) and unknown messages are rejected', () => {
    expect(() => parsePgoutput(Buffer.from('S'))).toThrow(PgoutputFormatError);
    expect(() => parsePgoutput(new Msg().byte('I').int32(5).byte('X').build())).toThrow(/new tuple/);
  });
});

describe('TupleReader', () => {
  const state = relationState();

  test('parses with each column parser, NULLs, unchanged TOAST left out', () => {
    const r = new TupleReader();
    const buf = new Msg().tuple(['9223372036854775807', 'naïve 𝄞', '12345678901234567890.000000001', '2024-01-02 03:04:05.5+00']).build();
    expect(r.read(buf, 0, state)).toEqual({ id: 9223372036854775807n, name: 'naïve 𝄞', price: '12345678901234567890.000000001', at: '2024-01-02T03:04:05.5Z' });
    expect(r.end).toBe(buf.length);
    expect(r.unchanged).toEqual([]);
    const row = r.read(new Msg().tuple(['1', null, 'TOAST', null]).build(), 0, state);
    expect(row).toEqual({ id: 1n, name: null, at: null });
    expect('price' in row).toBe(false);
    expect(r.unchanged).toEqual(['price']);
  });

  test('old-key tuples keep only the key columns', () => {
    const r = new TupleReader();
    expect(r.read(new Msg().tuple(['7', null, null, null]).build(), 0, state, true)).toEqual({ id: 7n });
  });
});

describe('ChangeAssembler', () => {
  function setup(batchSize: number, identity = 'd'): { a: ChangeAssembler; rel: RelationState } {
    const rel = relationState(identity);
    const a = new ChangeAssembler('flow-1', batchSize, 0x100n, new Map([[rel.relationId, rel]]));
    return { a, rel };
  }
  const insert = (id: number, toast = false): Buffer =>
    new Msg()
      .byte('I')
      .int32(16400)
      .byte('N')
      .tuple([String(id), `n${id}`, toast ? 'TOAST' : '1.5', null])
      .xlog(BigInt(0x1000 + id));
  const feedRow = (a: ChangeAssembler, buf: Buffer): void => a.onRowChange(buf, XLOG_DATA_HEADER, buf.readBigUInt64BE(1));

  test('changes carry transaction metadata; batches cut at batch_size; checkpoint only at commits', () => {
    const { a } = setup(2);
    a.onBegin({ tag: 'begin', finalLsn: 0x2000n, commitTimeMicros: COMMIT_UNIX_MICROS, xid: 42 });
    for (let i = 1; i <= 3; i++) feedRow(a, insert(i));
    expect(a.readyCount).toBe(1);
    const first = a.takeReady()!;
    expect(first.changes.map((c) => c.seq)).toEqual([0, 1]);
    expect(first.checkpointLsn).toBe(0x100n); // the transaction is still open
    expect(first.changes[0]).toMatchObject({
      op: 'insert',
      lsn: 0x1001n,
      commitLsn: 0x2000n,
      commitEndLsn: 0n,
      commitTimeMicros: COMMIT_UNIX_MICROS,
      xid: 42,
      key: { id: 1n },
      before: null,
    });
    expect(first.firstLsn).toBe(0x2000n);
    expect(first.schemas.get('public.items')!.primaryKey).toEqual(['id']);
    a.onCommit({ tag: 'commit', flags: 0, commitLsn: 0x2000n, endLsn: 0x2030n, commitTimeMicros: COMMIT_UNIX_MICROS });
    a.cut();
    const second = a.takeReady()!;
    expect(second.changes.map((c) => [c.seq, c.commitEndLsn])).toEqual([[2, 0x2030n]]);
    expect(second.checkpointLsn).toBe(0x2030n);
    expect(first.changes[0]!.commitEndLsn).toBe(0n); // batches already cut are never changed afterwards
  });

  test('keepalives advance the checkpoint only outside transactions', () => {
    const { a } = setup(10);
    a.onKeepalive(0x3000n);
    expect(a.emptyBatch().checkpointLsn).toBe(0x3000n);
    a.onBegin({ tag: 'begin', finalLsn: 0x4000n, commitTimeMicros: 0n, xid: 1 });
    a.onKeepalive(0x5000n);
    expect(a.emptyBatch().checkpointLsn).toBe(0x3000n);
    a.onKeepalive(0x2000n);
    a.onCommit({ tag: 'commit', flags: 0, commitLsn: 0x4000n, endLsn: 0x4010n, commitTimeMicros: 0n });
    expect(a.emptyBatch()).toMatchObject({ flowId: 'flow-1', changes: [], checkpointLsn: 0x4010n });
    a.onKeepalive(0x1000n);
    expect(a.safeLsn).toBe(0x4010n);
    // Not while received changes wait in the pending batch: its checkpoint is its last commit's end.
    a.onBegin({ tag: 'begin', finalLsn: 0x6000n, commitTimeMicros: 0n, xid: 2 });
    feedRow(a, insert(1));
    a.onCommit({ tag: 'commit', flags: 0, commitLsn: 0x6000n, endLsn: 0x6010n, commitTimeMicros: 0n });
    a.onKeepalive(0x7000n);
    a.cut();
    expect(a.takeReady()!.checkpointLsn).toBe(0x6010n);
    a.onKeepalive(0x7000n);
    expect(a.emptyBatch().checkpointLsn).toBe(0x7000n);
  });

  test('update with old key, delete with old row, unchanged TOAST, truncate per table', () => {
    const { a } = setup(100, 'f');
    a.onBegin({ tag: 'begin', finalLsn: 0x9000n, commitTimeMicros: 0n, xid: 5 });
    feedRow(a, new Msg().byte('U').int32(16400).byte('O').tuple(['1', 'old', '1', null]).byte('N').tuple(['1', 'new', 'TOAST', null]).xlog(0x8000n));
    feedRow(a, new Msg().byte('D').int32(16400).byte('O').tuple(['2', 'gone', '3', null]).xlog(0x8100n));
    feedRow(a, new Msg().byte('U').int32(16400).byte('K').tuple(['3', null, null, null]).byte('N').tuple(['4', 'moved', '1', null]).xlog(0x8200n));
    a.onTruncate({ tag: 'truncate', options: 1, relationIds: [16400] }, 0x8300n);
    a.onCommit({ tag: 'commit', flags: 0, commitLsn: 0x9000n, endLsn: 0x9010n, commitTimeMicros: 0n });
    a.cut();
    const b: Batch = a.takeReady()!;
    const [u, d, k, t] = b.changes;
    expect(u).toMatchObject({
      op: 'update',
      key: { id: 1n },
      before: { id: 1n, name: 'old', price: '1', at: null },
      after: { id: 1n, name: 'new', at: null },
      unchangedToast: ['price'],
    });
    expect('price' in u!.after!).toBe(false);
    expect(d).toMatchObject({ op: 'delete', key: { id: 2n }, before: { id: 2n, name: 'gone' }, after: null });
    expect(k).toMatchObject({ op: 'update', key: { id: 4n }, before: { id: 3n } });
    expect(t).toMatchObject({ op: 'truncate', key: {}, before: null, after: null, truncateOptions: { cascade: true, restartIdentity: false }, seq: 3 });
    expect(b.changes.every((c) => c.commitEndLsn === 0x9010n)).toBe(true);
    expect(b.schemas.get('public.items')!.replicaIdentity).toBe('full');
  });

  test('internal tables are dropped; a change before its Relation is an error', () => {
    const rel = parsePgoutput(relationMsg(16401).build()) as RelationMessage;
    const internal = buildRelationState(
      { ...rel, schema: 'ductstream' },
      { found: true, notNull: new Set(), primaryKey: ['id'], types: [] },
      new TypeRegistry(false),
      new Set(['ductstream']),
      new Map(),
    );
    const a = new ChangeAssembler('f', 10, 0n, new Map([[16401, internal]]));
    a.onBegin({ tag: 'begin', finalLsn: 1n, commitTimeMicros: 0n, xid: 1 });
    const buf = new Msg().byte('I').int32(16401).byte('N').tuple(['1', 'x', '1', null]).xlog(1n);
    a.onRowChange(buf, XLOG_DATA_HEADER, 1n);
    expect(a.pendingCount).toBe(0);
    const unknown = new Msg().byte('I').int32(999).byte('N').tuple(['1']).xlog(1n);
    expect(() => a.onRowChange(unknown, XLOG_DATA_HEADER, 1n)).toThrow(/before its Relation/);
  });
});

describe('CopyDataFramer', () => {
  const frame = (code: string, payload: Buffer): Buffer => {
    const head = Buffer.alloc(5);
    head[0] = code.charCodeAt(0);
    head.writeUInt32BE(payload.length + 4, 1);
    return Buffer.concat([head, payload]);
  };
  const stream = Buffer.concat([
    frame('W', Buffer.from([0, 0, 0])),
    frame('d', Buffer.from('first')),
    frame('d', Buffer.alloc(70_000, 7)),
    frame('N', Buffer.from('notice\0')),
    frame('d', Buffer.from('')),
    frame('d', Buffer.from('last')),
  ]);

  /** Feeds `stream` cut at `cuts`; returns what each side received, in order. */
  const run = (cuts: number[]): string[] => {
    const seen: string[] = [];
    const framer = new CopyDataFramer(
      (buf, start, end) => seen.push(`d:${end - start}:${buf.subarray(start, Math.min(end, start + 5)).toString('latin1')}`),
      (m) => {
        seen.push(`pg:${String.fromCharCode(m[0]!)}:${m.length}`);
        if (m[0] === 0x57) framer.streaming = true;
      },
      (e) => seen.push(`error:${e.message}`),
    );
    let from = 0;
    for (const cut of [...cuts, stream.length]) {
      framer.push(stream.subarray(from, cut));
      from = cut;
    }
    return seen;
  };

  const expected = ['pg:W:8', 'd:5:first', `d:70000:${'\u0007'.repeat(5)}`, 'pg:N:12', 'd:0:', 'd:4:last'];

  test('whole, and cut at every byte of the headers and around every message boundary', () => {
    expect(run([])).toEqual(expected);
    const boundaries = [0, 8, 18, 18 + 70_005, 18 + 70_005 + 12, 18 + 70_005 + 12 + 5];
    for (const b of boundaries)
      for (let d = -6; d <= 6; d++) {
        const cut = b + d;
        if (cut > 0 && cut < stream.length) expect(run([cut])).toEqual(expected);
      }
    expect(run([1, 2, 3, 4, 5, 6, 20, 30_000, 60_000, 70_020])).toEqual(expected);
  });

  test('CopyData before streaming goes to node pg; a malformed length stops the framer', () => {
    const seen: string[] = [];
    const framer = new CopyDataFramer(
      () => seen.push('d'),
      (m) => seen.push(`pg:${String.fromCharCode(m[0]!)}`),
      (e) => seen.push(e.message),
    );
    framer.push(frame('d', Buffer.from('x')));
    framer.push(Buffer.from([0x64, 0, 0, 0, 2, 1, 2, 3]));
    framer.push(frame('d', Buffer.from('y')));
    expect(seen).toEqual(['pg:d', 'malformed protocol message from the server (length 2)']);
  });
});

describe('readLsn', () => {
  test.each([0n, 1n, 0x1_0000_0000n, 0x1f_ffff_ffff_ffffn, 0x20_0000_0000_0000n, 0xffff_ffff_ffff_ffffn, 0x16_b374_d848n])('%s', (lsn) => {
    const buf = Buffer.alloc(11);
    buf.writeBigUInt64BE(lsn, 3);
    expect(readLsn(buf, 3)).toBe(lsn);
  });
});
