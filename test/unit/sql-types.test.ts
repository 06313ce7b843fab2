import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { duckdbDialect } from '../../src/destinations/duckdb/dialect';
import { loadTypeMappings, mappedType, parseTypeMappings } from '../../src/destinations/sql/type-mappings';
import { describeLogicalType, logicalTypeOf, numericPrecisionScale } from '../../src/destinations/sql/types';
import { column } from '../support/changes';

const limits = { maxDecimalPrecision: 38 };
const duck = (spec: string): string => duckdbDialect.typeName(logicalTypeOf(column('c', spec), limits));

describe('PostgreSQL → logical → DuckDB types', () => {
  test.each([
    ['bool', 'BOOLEAN'],
    ['int2', 'SMALLINT'],
    ['int4', 'INTEGER'],
    ['int8', 'BIGINT'],
    ['oid', 'BIGINT'],
    ['float4', 'REAL'],
    ['float8', 'DOUBLE'],
    ['numeric(12,2)', 'DECIMAL(12,2)'],
    ['numeric(38,0)', 'DECIMAL(38,0)'],
    ['numeric(39,2)', 'VARCHAR'],
    ['numeric', 'VARCHAR'],
    ['text', 'VARCHAR'],
    ['varchar(20)', 'VARCHAR'],
    ['bpchar(3)', 'VARCHAR'],
    ['name', 'VARCHAR'],
    ['bytea', 'BLOB'],
    ['json', 'JSON'],
    ['jsonb', 'JSON'],
    ['uuid', 'UUID'],
    ['date', 'DATE'],
    ['timestamp', 'TIMESTAMP'],
    ['timestamptz', 'TIMESTAMPTZ'],
    ['time', 'TIME'],
    ['timetz', 'TIMETZ'],
    ['interval', 'INTERVAL'],
    ['int4[]', 'INTEGER[]'],
    ['_text', 'VARCHAR[]'],
    ['numeric(10,2)[]', 'DECIMAL(10,2)[]'],
    ['timestamptz[]', 'TIMESTAMPTZ[]'],
    ['public.mood', 'VARCHAR'],
    ['public.geometry', 'VARCHAR'],
    ['inet', 'VARCHAR'],
    ['money', 'VARCHAR'],
  ])('%s → %s', (spec, expected) => {
    expect(duck(spec)).toBe(expected);
  });

  test('numeric precision and scale come from the typmod, else from the formatted type', () => {
    expect(numericPrecisionScale(((30 << 16) | 10) + 4, '')).toEqual({ precision: 30, scale: 10 });
    // PostgreSQL 15 allows negative scales (numeric(2,-3)): 11-bit signed.
    expect(numericPrecisionScale(((2 << 16) | (-3 & 0x7ff)) + 4, '')).toEqual({ precision: 2, scale: -3 });
    expect(numericPrecisionScale(-1, 'numeric(7,3)')).toEqual({ precision: 7, scale: 3 });
    expect(numericPrecisionScale(-1, 'numeric')).toBeUndefined();
    expect(describeLogicalType(logicalTypeOf(column('c', 'numeric(2,-3)'), limits))).toBe('text');
    expect(describeLogicalType(logicalTypeOf(column('c', 'numeric(10,2)[]'), limits))).toBe('list<decimal(10,2)>');
  });
});

describe('type_mappings', () => {
  test('parses a JSON map and refuses anything else, naming the field', () => {
    expect([...parseTypeMappings('{"JSONB": " VARIANT ", "public.geometry": "GEOGRAPHY"}', 'f')]).toEqual([
      ['jsonb', 'VARIANT'],
      ['public.geometry', 'GEOGRAPHY'],
    ]);
    expect(() => parseTypeMappings('{nope', 'destinations[0].options.type_mappings')).toThrow(/^destinations\[0\]\.options\.type_mappings: is not valid JSON/);
    expect(() => parseTypeMappings('["a"]', 'f')).toThrow('f: must be a JSON object');
    expect(() => parseTypeMappings('{"text": "VARCHAR; DROP TABLE x"}', 'f')).toThrow('f.text: "VARCHAR; DROP TABLE x" is not a destination type name');
    expect(() => parseTypeMappings('{"text": 5}', 'f')).toThrow('f.text');
  });

  test('matches formatted type, then pg type, then the bare name, then element[] for arrays', () => {
    const m = parseTypeMappings(JSON.stringify({ 'numeric(30,10)': 'A', numeric: 'B', geometry: 'C', 'int4[]': 'D', 'public.mood': 'E' }), 'f');
    expect(mappedType(column('c', 'numeric(30,10)'), m)).toBe('A');
    expect(mappedType(column('c', 'numeric(12,2)'), m)).toBe('B');
    expect(mappedType(column('c', 'public.geometry'), m)).toBe('C');
    expect(mappedType(column('c', 'int4[]'), m)).toBe('D');
    expect(mappedType(column('c', 'public.mood'), m)).toBe('E');
    expect(mappedType(column('c', 'text'), m)).toBeUndefined();
  });

  test('the file is read first and inline entries win; an unreadable file names its option', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ductstream-tm-'));
    try {
      const file = join(dir, 'm.json');
      writeFileSync(file, '{"jsonb": "VARCHAR", "uuid": "VARCHAR"}');
      const m = loadTypeMappings('{"jsonb": "JSON"}', 'o.type_mappings', file, 'o.type_mappings_file');
      expect(Object.fromEntries(m)).toEqual({ jsonb: 'JSON', uuid: 'VARCHAR' });
      expect(() => loadTypeMappings(undefined, 'o.type_mappings', join(dir, 'missing.json'), 'o.type_mappings_file')).toThrow(
        'o.type_mappings_file: cannot be read (ENOENT)',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
