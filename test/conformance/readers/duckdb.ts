/**
 * Conformance reader of the `duckdb` destination: each target is a fresh database file; reading
 * opens it read-only and turns DuckDB's typed values into canonical forms.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBInstance,
  DuckDBIntervalValue,
  DuckDBListValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTimeTZValue,
  DuckDBTimeValue,
  DuckDBUUIDValue,
  type DuckDBValue,
} from '@duckdb/node-api';
import { tableKey, type TableSchema } from '../../../src/core/change';
import { canonicalValue, type Canon, type CanonColumn, type CanonicalRow } from '../canonical';
import type { ConformanceSubject } from '../subject';

const INFINITE_MICROS = (1n << 63n) - 1n;

/** A DuckDB value as the canonical form of `column` (see canonical.ts). */
export function canonOfDuck(v: DuckDBValue, column: CanonColumn): Canon {
  if (v === null || v === undefined) return null;
  if (v instanceof DuckDBListValue) {
    const element: CanonColumn = { ...column, pgType: column.pgType.replace(/_([^._]+)$/, '$1'), valueKind: column.elementKind ?? 'text' };
    return v.items.map((i) => canonOfDuck(i, element));
  }
  if (v instanceof DuckDBDecimalValue || v instanceof DuckDBUUIDValue) return v.toString();
  if (v instanceof DuckDBBlobValue) return Buffer.from(v.bytes).toString('hex');
  if (v instanceof DuckDBDateValue) return v.isFinite ? String(v.days) : v.days > 0 ? 'infinity' : '-infinity';
  if (v instanceof DuckDBTimestampValue || v instanceof DuckDBTimestampTZValue) {
    if (v.isFinite) return String(v.micros);
    return v.micros >= INFINITE_MICROS ? 'infinity' : '-infinity';
  }
  if (v instanceof DuckDBTimeValue) return String(v.micros);
  if (v instanceof DuckDBTimeTZValue) return `${v.micros}@${v.offset}`;
  if (v instanceof DuckDBIntervalValue) return `${v.months}|${v.days}|${v.micros}`;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' || typeof v === 'string') return canonicalValue(v, column);
  return `unexpected DuckDB value ${String(v)}`;
}

export async function readDuckdbTables(path: string, schemas: TableSchema[]): Promise<Map<string, CanonicalRow[]>> {
  const instance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
  const conn = await instance.connect();
  const out = new Map<string, CanonicalRow[]>();
  try {
    for (const s of schemas) {
      const exists = await conn.runAndReadAll(
        `SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = '${s.schema}' AND table_name = '${s.name}'`,
      );
      if (Number(exists.getRowObjects()[0]!.n) === 0) {
        out.set(tableKey(s), []);
        continue;
      }
      const cols = s.columns.map((c) => `"${c.name}"`).join(', ');
      const reader = await conn.runAndReadAll(`SELECT ${cols} FROM "${s.schema}"."${s.name}"`);
      out.set(
        tableKey(s),
        reader.getRowObjects().map((r) => Object.fromEntries(s.columns.map((c) => [c.name, canonOfDuck(r[c.name] as DuckDBValue, c)]))),
      );
    }
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
  return out;
}

export function duckdbSubject(): ConformanceSubject {
  let dir = '';
  return {
    type: 'duckdb',
    applies: 'transactional',
    async start() {
      dir = mkdtempSync(join(tmpdir(), 'ductstream-conf-duckdb-'));
    },
    async stop() {
      rmSync(dir, { recursive: true, force: true });
    },
    async target(scenario) {
      const path = join(dir, `${scenario}.duckdb`);
      return {
        options: { dsn: path },
        read: async (schemas) => ({ shape: 'rows', tables: await readDuckdbTables(path, schemas) }),
      };
    },
  };
}
