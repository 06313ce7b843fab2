import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { DuctError } from '../../src/core/errors';
import { WIRE_FORMATS } from '../../src/wire/codec';
import { assertFormatAllowed, getCodec, parseParquetCompression, parseWireFormat, resolveWireFormat } from '../../src/wire/registry';

function caught(fn: () => unknown): DuctError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DuctError) return e;
    throw e;
  }
  throw new Error('expected a DuctError');
}

describe('wire format registry', () => {
  test('parseWireFormat accepts every format, any case, and rejects unknown names with the allowed list', () => {
    for (const f of WIRE_FORMATS) expect(parseWireFormat(` ${f.toUpperCase()} `, 'wire_format')).toBe(f);
    const e = caught(() => parseWireFormat('xml', 'destinations[0].options.format'));
    expect(e.code).toBe('invalid_argument');
    expect(e.retry).toBe('never');
    expect(e.field).toBe('destinations[0].options.format');
    expect(e.message).toContain('destinations[0].options.format');
    expect(e.message).toContain('"xml"');
    expect(e.hint).toBe('use one of: json, arrow, parquet, avro, proto');
    expect(caught(() => parseWireFormat(42, 'wire_format')).message).toContain('42');
  });

  test('resolution order: destination, then flow, then service, then json', () => {
    expect(resolveWireFormat('avro', 'arrow', 'proto')).toBe('avro');
    expect(resolveWireFormat(undefined, 'arrow', 'proto')).toBe('arrow');
    expect(resolveWireFormat('', '  ', 'proto')).toBe('proto');
    expect(resolveWireFormat(null, null, null)).toBe('json');
    expect(resolveWireFormat()).toBe('json');
    expect(resolveWireFormat('PARQUET')).toBe('parquet');
  });

  test('an unknown name at any level is rejected naming that level, even when a higher level is set', () => {
    expect(caught(() => resolveWireFormat('csv', 'json')).field).toBe('options.format');
    expect(caught(() => resolveWireFormat('json', 'csv')).field).toBe('wire_format');
    expect(caught(() => resolveWireFormat(undefined, undefined, 'csv')).field).toBe('DUCTSTREAM_WIRE_FORMAT');
    expect(caught(() => resolveWireFormat('csv', undefined, undefined, { destination: 'destinations[2].options.format' })).field).toBe(
      'destinations[2].options.format',
    );
  });

  test('enforcement rejects a destination whose format differs from the service, naming it', () => {
    expect(() =>
      assertFormatAllowed({ resolved: 'avro', serviceFormat: 'json', enforce: false, destinationName: 'lake', field: 'destinations[0].options.format' }),
    ).not.toThrow();
    expect(() =>
      assertFormatAllowed({ resolved: 'json', serviceFormat: 'json', enforce: true, destinationName: 'lake', field: 'destinations[0].options.format' }),
    ).not.toThrow();
    const e = caught(() =>
      assertFormatAllowed({ resolved: 'avro', serviceFormat: 'json', enforce: true, destinationName: 'lake', field: 'destinations[0].options.format' }),
    );
    expect(e.code).toBe('invalid_argument');
    expect(e.field).toBe('destinations[0].options.format');
    expect(e.message).toContain('"lake"');
    expect(e.message).toContain('"avro"');
    expect(e.message).toContain('"json"');
  });

  test('parquet compression names', () => {
    expect(parseParquetCompression('ZSTD', 'options.compression')).toBe('zstd');
    expect(parseParquetCompression('uncompressed', 'options.compression')).toBe('none');
    const e = caught(() => parseParquetCompression('lzma', 'options.compression'));
    expect(e.field).toBe('options.compression');
    expect(e.hint).toContain('snappy');
  });

  test('getCodec returns one memoized codec per format', () => {
    const json = getCodec('json');
    expect(json.format).toBe('json');
    expect(getCodec('json')).toBe(json);
  });

  test('each codec loads only its own library (json loads none)', () => {
    const root = path.resolve(__dirname, '../..');
    const script = [
      "const { getCodec } = require('./src/wire/registry');",
      'const libs = () => [...new Set(Object.keys(require.cache).map((k) => /node_modules[\\\\/](apache-arrow|parquet-wasm|avsc|protobufjs)[\\\\/]/.exec(k)?.[1]).filter(Boolean))].sort();',
      'const seen = {};',
      "for (const f of ['json', 'avro', 'proto', 'arrow', 'parquet']) { getCodec(f); seen[f] = libs(); }",
      'process.stdout.write(JSON.stringify(seen));',
    ].join('\n');
    const out = execFileSync(path.join(root, 'node_modules/.bin/tsx'), ['-e', script], { cwd: root, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({
      json: [],
      avro: ['avsc'],
      proto: ['avsc', 'protobufjs'],
      arrow: ['apache-arrow', 'avsc', 'protobufjs'],
      parquet: ['apache-arrow', 'avsc', 'parquet-wasm', 'protobufjs'],
    });
  });

  test('every format has a codec with its content types', () => {
    const seen = WIRE_FORMATS.map((f) => {
      const c = getCodec(f);
      return [c.format, c.fileExtension, c.contentType, c.fileContentType];
    });
    expect(seen).toEqual([
      ['json', 'jsonl', 'application/json', 'application/x-ndjson'],
      ['arrow', 'arrows', 'application/vnd.apache.arrow.stream', 'application/vnd.apache.arrow.stream'],
      ['parquet', 'parquet', 'application/vnd.apache.parquet', 'application/vnd.apache.parquet'],
      ['avro', 'avro', 'avro/binary', 'application/avro'],
      ['proto', 'binpb', 'application/x-protobuf; messageType=ductstream.v1.ChangeEvent', 'application/x-protobuf; messageType=ductstream.v1.ChangeBatch'],
    ]);
    expect(getCodec('parquet', { compression: 'zstd' })).not.toBe(getCodec('parquet'));
    expect(getCodec('parquet', { compression: 'zstd' })).toBe(getCodec('parquet', { compression: 'zstd' }));
  });
});
