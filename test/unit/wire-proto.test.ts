import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as protobuf from 'protobufjs';
import { DuctError } from '../../src/core/errors';
import { dateToEpochDays, timestampToEpochMicros } from '../../src/core/time';
import { envelopeOf } from '../../src/wire/envelope';
import { protoCodec, protoDir } from '../../src/wire/proto';
import { ALL_TYPES, ROW_A, makeChange, sampleChanges, typedChanges } from '../support/wire-fixtures';

const root = path.resolve(__dirname, '../..');
type Obj = Record<string, unknown>;
type PField = { name: string; value: Obj };

/** Field values of a row as protobufjs' default (camelCase) loader sees them. */
function fields(row: { fields: PField[] }): Record<string, Obj> {
  return Object.fromEntries(row.fields.map((f) => [f.name, f.value]));
}

describe('proto codec', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'wire-proto-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('every change round-trips exactly, as ChangeEvent messages and as one ChangeBatch', () => {
    const changes = sampleChanges();
    for (const c of changes) expect(protoCodec.decodeMessage(protoCodec.encodeMessage(c, ALL_TYPES), ALL_TYPES)).toEqual(envelopeOf(c));
    expect(protoCodec.decodeFile(protoCodec.encodeFile(changes, ALL_TYPES), ALL_TYPES)).toEqual(changes.map(envelopeOf));
  });

  test('a decoder generated from the .proto by protobufjs reads typed values', () => {
    const rootType = protobuf.loadSync(path.join(root, 'proto/ductstream/v1/change.proto'));
    const Batch = rootType.lookupType('ductstream.v1.ChangeBatch');
    const msg = Batch.decode(protoCodec.encodeFile(sampleChanges(), ALL_TYPES));
    const o = Batch.toObject(msg, { longs: String, enums: String, oneofs: true, defaults: false }) as { events: Obj[]; columns: Obj[] };
    expect(o.columns[7]).toEqual({ name: 'n30', pgType: 'numeric(30,10)', nullable: true });
    const e = o.events[0]!;
    expect(e).toMatchObject({
      op: 'OP_INSERT',
      schema: 'public',
      table: 'all_types',
      lsn: '0/16B6C50',
      commitLsn: '1/16B6D00',
      commitTimeMicros: '1714564800123456',
      xid: 4294967295,
    });
    const a = fields(e.after as { fields: PField[] });
    expect(a.id).toEqual({ intValue: '1', kind: 'intValue' });
    expect(a.b).toEqual({ boolValue: true, kind: 'boolValue' });
    expect(a.i8).toEqual({ intValue: '-9223372036854775808', kind: 'intValue' });
    expect(a.f4!.doubleValue).toBe(3.14);
    expect(a.n30!.decimalValue).toBe('12345678901234567890.1234567890');
    expect(a.n!.decimalValue).toBe(ROW_A.n);
    expect(a.t!.stringValue).toBe(ROW_A.t);
    expect(Buffer.from(a.by!.bytesValue as Uint8Array)).toEqual(Buffer.from([0, 1, 0, 255, 0]));
    expect(a.jb!.jsonValue).toBe(ROW_A.jb);
    expect(a.d!.dateDays).toBe(dateToEpochDays('-000043-03-15'));
    expect(a.ts!.localTimestampMicros).toBe(String(timestampToEpochMicros('1969-07-20T20:17:40.123456')));
    expect(a.tstz!.timestampMicros).toBe(String(timestampToEpochMicros('2262-04-11T23:47:16.854775Z')));
    expect(a.tm!.timeMicros).toBe('86399999999');
    expect(a.iv!.stringValue).toBe(ROW_A.iv);
    expect(a.ta).toEqual({
      kind: 'listValue',
      listValue: {
        values: [
          { stringValue: 'a', kind: 'stringValue' },
          { nullValue: 'NULL_VALUE_UNSPECIFIED', kind: 'nullValue' },
          { stringValue: 'c "q"', kind: 'stringValue' },
          { stringValue: '', kind: 'stringValue' },
        ],
      },
    });
    // Multi-dimensional arrays are nested lists, no fallback needed.
    expect(a.im!.listValue).toEqual({
      values: [
        {
          kind: 'listValue',
          listValue: {
            values: [
              { intValue: '1', kind: 'intValue' },
              { intValue: '2', kind: 'intValue' },
            ],
          },
        },
        {
          kind: 'listValue',
          listValue: {
            values: [
              { intValue: '3', kind: 'intValue' },
              { nullValue: 'NULL_VALUE_UNSPECIFIED', kind: 'nullValue' },
            ],
          },
        },
      ],
    });
    // Special values: NaN stays a double, numeric NaN is decimal text, infinite dates use the string fallback.
    const b = fields(o.events[1]!.after as { fields: PField[] });
    expect(b.f4!.doubleValue).toBeNaN();
    expect(Object.is(b.f8!.doubleValue, -0)).toBe(true);
    expect(b.n30!.decimalValue).toBe('NaN');
    expect(b.d!.stringValue).toBe('infinity');
    expect(b.ts!.stringValue).toBe('-infinity');
    // The TOAST update lists no `t` field at all; the key-only delete has no before/after.
    const toast = o.events[4]!;
    expect((toast.after as { fields: PField[] }).fields.map((f) => f.name)).not.toContain('t');
    expect(toast.unchangedToast).toEqual(['t']);
    expect(o.events[5]!.after).toBeUndefined();
    expect(fields(o.events[5]!.key as { fields: PField[] })).toEqual({ id: { intValue: '1', kind: 'intValue' } });
  });

  test('buf (Go protobuf) decodes the same bytes with the schema from the .proto', () => {
    const file = path.join(dir, 'batch.binpb');
    writeFileSync(file, protoCodec.encodeFile(typedChanges(), ALL_TYPES));
    const out = execFileSync(
      path.join(root, 'node_modules/.bin/buf'),
      ['convert', 'proto', '--type', 'ductstream.v1.ChangeBatch', '--from', file, '--to', '-#format=json'],
      { cwd: root, encoding: 'utf8' },
    );
    const batch = JSON.parse(out) as { events: Obj[] };
    expect(batch.events).toHaveLength(4);
    expect(batch.events[0]).toMatchObject({ op: 'OP_INSERT', commitTimeMicros: '1714564800123456', xid: 4294967295 });
    const a = fields(batch.events[0]!.after as { fields: PField[] });
    expect(a.i8).toEqual({ intValue: '-9223372036854775808' });
    expect(a.f8).toEqual({ doubleValue: 1.7976931348623157e308 });
    expect(a.n30).toEqual({ decimalValue: '12345678901234567890.1234567890' });
    expect(a.by).toEqual({ bytesValue: 'AAEA/wA=' });
    expect(a.d).toEqual({ dateDays: dateToEpochDays('-000043-03-15') });
    expect(a.tstz).toEqual({ timestampMicros: '9223372036854775' });
    expect(a.i8a).toEqual({ listValue: { values: [{ intValue: '9223372036854775807' }, { nullValue: 'NULL_VALUE_UNSPECIFIED' }] } });
    expect(fields(batch.events[1]!.after as { fields: PField[] }).b).toEqual({ nullValue: 'NULL_VALUE_UNSPECIFIED' });
  });

  test('the .proto is found from src/wire and from the compiled dist/src/wire', () => {
    expect(protoDir()).toBe(path.join(root, 'proto'));
    expect(protoDir(path.join(root, 'dist/src/wire'))).toBe(path.join(root, 'proto'));
    expect(() => protoDir('/')).toThrow(DuctError);
  });

  test('output is deterministic', () => {
    const a = Buffer.from(protoCodec.encodeFile(sampleChanges(), ALL_TYPES));
    expect(a.equals(Buffer.from(protoCodec.encodeFile(sampleChanges(), ALL_TYPES)))).toBe(true);
  });

  test('bad input is refused', () => {
    expect(() => protoCodec.encodeMessage(makeChange({ after: { id: 1n, ghost: 1 } }), ALL_TYPES)).toThrow(DuctError);
    expect(() => protoCodec.decodeMessage(Buffer.from([0x0a, 0xff, 0xff]), ALL_TYPES)).toThrow(DuctError);
  });
});
