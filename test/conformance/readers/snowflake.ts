/**
 * Conformance reader of the `snowflake` destination against the Snowflake stand-in (no Snowflake
 * runs here): the destination talks to the stand-in through the real snowflake-sdk; each scenario
 * writes into a schema of its own, read back from the stand-in's DuckDB storage.
 */
import type { DuckDBValue } from '@duckdb/node-api';
import { tableKey, type TableSchema } from '../../../src/core/change';
import { SnowflakeStandIn } from '../../support/peers/snowflake/standIn';
import type { Canon, CanonColumn, CanonicalRow } from '../canonical';
import type { ConformanceSubject } from '../subject';
import { canonOfDuck } from './duckdb';

/** VARIANT/ARRAY are JSON in the stand-in: arrays come back as JSON text. */
export function canonOf(v: DuckDBValue, column: CanonColumn): Canon {
  if (column.valueKind === 'array' && typeof v === 'string') {
    const element: CanonColumn = { ...column, pgType: column.pgType.replace(/_([^._]+)$/, '$1'), valueKind: column.elementKind ?? 'text' };
    return (JSON.parse(v) as unknown[]).map((e) => (e === null ? null : canonOfDuck((typeof e === 'object' ? JSON.stringify(e) : e) as DuckDBValue, element)));
  }
  return canonOfDuck(v, column);
}

export async function readStandInTables(standIn: SnowflakeStandIn, schema: string, schemas: TableSchema[]): Promise<Map<string, CanonicalRow[]>> {
  const out = new Map<string, CanonicalRow[]>();
  for (const s of schemas) {
    const exists = await standIn.query(`SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = '${schema}' AND table_name = '${s.name}'`);
    if (Number(exists[0]!.n) === 0) {
      out.set(tableKey(s), []);
      continue;
    }
    const rows = await standIn.query(`SELECT ${s.columns.map((c) => `"${c.name}"`).join(', ')} FROM "${schema}"."${s.name}"`);
    out.set(
      tableKey(s),
      rows.map((r) => Object.fromEntries(s.columns.map((c) => [c.name, canonOf(r[c.name] as DuckDBValue, c)]))),
    );
  }
  return out;
}

export function snowflakeSubject(): ConformanceSubject {
  let standIn: SnowflakeStandIn | undefined;
  return {
    type: 'snowflake',
    label: 'snowflake (stand-in, real snowflake-sdk)',
    applies: 'staged',
    // The stand-in's MERGE on DuckDB costs ~0.2 ms a row and each worker start imports the sdk.
    crashTimeoutMs: 400_000,
    async start() {
      standIn = await SnowflakeStandIn.start();
    },
    async stop() {
      await standIn?.stop();
    },
    async target(scenario) {
      const s = standIn!;
      return {
        options: { dsn: s.dsn(), schema: scenario },
        read: async (schemas) => ({ shape: 'rows', tables: await readStandInTables(s, scenario, schemas) }),
      };
    },
  };
}
