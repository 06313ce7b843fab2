/**
 * File options of flows that arrive through the API stay inside DUCTSTREAM_DATA_DIR (issue 10,
 * item 15): parseFlow with a `fileRoot` rejects, naming the option, every path that resolves
 * outside it (absolute, `..`, a symlink inside pointing out, a DSN's TLS files), before any file is
 * read; without a `fileRoot` (the worker's local flow file) any path is accepted.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseFlow } from '../../src/config/flow';
import { DuctError } from '../../src/core/errors';
import '../../src/destinations';

let dir: string;
let data: string;
let outside: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ductstream-paths-'));
  data = join(dir, 'data');
  outside = join(dir, 'outside');
  mkdirSync(data);
  mkdirSync(outside);
  symlinkSync(outside, join(data, 'escape'));
  writeFileSync(join(outside, 'secret.json'), '{"private_key": "-----BEGIN PRIVATE KEY----- s3cr3t"}');
  writeFileSync(join(data, 'creds.json'), '{"private_key": "-----BEGIN PRIVATE KEY----- s3cr3t"}');
  writeFileSync(join(data, 'types.json'), '{"jsonb": "VARCHAR"}');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const flow = (source: Record<string, string>, dest: { type: string; options: Record<string, string> }) => ({
  id: 'f',
  source: { type: 'postgres', options: { dsn: 'postgres://u:pw@h/db', slot: 's', publication: 'p', ...source } },
  destinations: [{ name: 'd', ...dest }],
});
const ctx = () => ({ serviceWireFormat: 'json' as const, enforceWireFormat: false, fileRoot: data });

function rejection(input: unknown): DuctError {
  try {
    parseFlow(input, ctx());
  } catch (e) {
    expect(e).toBeInstanceOf(DuctError);
    return e as DuctError;
  }
  throw new Error('expected a rejection');
}

describe('file options through the API', () => {
  it.each([
    ['an absolute duckdb dsn elsewhere', {}, { type: 'duckdb', options: { dsn: '/etc/ductstream.duckdb' } }, 'destinations[0].options.dsn'],
    ['a dsn that climbs out with ..', {}, { type: 'duckdb', options: { dsn: () => join(data, '..', 'outside', 'x.duckdb') } }, 'destinations[0].options.dsn'],
    [
      'a dsn through a symlink that points out',
      {},
      { type: 'duckdb', options: { dsn: () => join(data, 'escape', 'x.duckdb') } },
      'destinations[0].options.dsn',
    ],
    [
      'a type_mappings_file outside',
      {},
      { type: 'duckdb', options: { dsn: ':memory:', type_mappings_file: () => join(outside, 'secret.json') } },
      'destinations[0].options.type_mappings_file',
    ],
    [
      '/etc/passwd as type_mappings_file',
      {},
      { type: 'duckdb', options: { dsn: ':memory:', type_mappings_file: '/etc/passwd' } },
      'destinations[0].options.type_mappings_file',
    ],
    [
      'a snapshot_state_path outside',
      { snapshot_state_backend: 'file', snapshot_state_path: '/var/tmp/state.json' },
      { type: 'duckdb', options: { dsn: ':memory:' } },
      'source.options.snapshot_state_path',
    ],
    [
      'a source dsn sslrootcert outside',
      { dsn: 'postgres://u:pw@h/db?sslmode=verify-full&sslrootcert=/etc/ssl/private/key.pem' },
      { type: 'duckdb', options: { dsn: ':memory:' } },
      'source.options.dsn',
    ],
    [
      'a pgstream dsn sslkey outside',
      {},
      { type: 'pgstream', options: { dsn: 'postgres://u:pw@h/db?sslkey=/root/.ssh/id_rsa' } },
      'destinations[0].options.dsn',
    ],
  ])('refuses %s, naming the option', (_name, source, dest, field) => {
    const options = Object.fromEntries(Object.entries(dest.options).map(([k, v]) => [k, typeof v === 'function' ? v() : v]));
    const e = rejection(flow(source, { type: dest.type, options }));
    expect(e.code).toBe('invalid_argument');
    expect(e.field).toBe(field);
    expect(e.message).toMatch(/is outside the data directory/);
    expect(e.hint).toMatch(/DUCTSTREAM_DATA_DIR/);
    expect(e.describe()).not.toMatch(/s3cr3t|root:|BEGIN/);
  });

  it('accepts paths inside, absolute or relative to the working directory, and :memory:', () => {
    for (const dsn of [join(data, 'w.duckdb'), join(data, 'sub', 'dir', 'w.duckdb'), relative(process.cwd(), join(data, 'r.duckdb')), ':memory:']) {
      expect(parseFlow(flow({}, { type: 'duckdb', options: { dsn, type_mappings_file: join(data, 'types.json') } }), ctx()).destinations[0]!.options.dsn).toBe(
        dsn,
      );
    }
  });

  it('never quotes a type_mappings_file it read', () => {
    const e = rejection(flow({}, { type: 'duckdb', options: { dsn: ':memory:', type_mappings_file: join(data, 'creds.json') } }));
    expect(e.field).toBe('destinations[0].options.type_mappings_file');
    expect(e.describe()).toMatch(/the entry "private_key" does not map to a destination type name/);
    expect(e.describe()).not.toMatch(/s3cr3t|BEGIN/);
    writeFileSync(join(data, 'notjson.json'), 'root:x:0:0:root:/root:/bin/bash');
    const j = rejection(flow({}, { type: 'duckdb', options: { dsn: ':memory:', type_mappings_file: join(data, 'notjson.json') } }));
    expect(j.describe()).toMatch(/type_mappings_file: is not valid JSON \(syntax error/);
    expect(j.describe()).not.toMatch(/root|bash/);
  });

  it('lets a local flow file (no fileRoot) use any path', () => {
    const f = parseFlow(flow({}, { type: 'duckdb', options: { dsn: join(outside, 'w.duckdb'), type_mappings_file: join(data, 'types.json') } }));
    expect(f.destinations[0]!.options.dsn).toBe(join(outside, 'w.duckdb'));
  });
});
