/**
 * Conformance reader of the `clickhouse` destination, against a real ClickHouse (chdb behind the
 * HTTP interface, test/support/peers/clickhouseServer.ts): each target is a fresh database; rows
 * are read back through `@clickhouse/client`, with `FINAL` for the versioned apply mode (as the
 * README tells readers to), and turned into canonical forms.
 *
 * ClickHouse's Date32/DateTime64 (1900–2299) and Decimal (no NaN) cannot hold some edge values
 * of the types scenario (BC dates, ±infinity, a numeric NaN): the destination refuses them rather
 * than clamp, so the suite maps those columns to String with `type_mappings`, as a user would. The
 * native types are covered with in-range values by test/integration/destination-clickhouse-types.test.ts.
 */
import { tableKey, type TableSchema } from '../../../src/core/change';
import { canonicalValue, type Canon, type CanonColumn, type CanonicalRow } from '../canonical';
import type { ConformanceSubject } from '../subject';
import { startClickhouseServer, type ClickhouseServer } from '../../support/peers/clickhouseServer';

/** Type mappings the types scenario needs on ClickHouse (see the header). */
export const EDGE_VALUE_MAPPINGS = JSON.stringify({ date: 'String', timestamp: 'String', timestamptz: 'String', 'numeric(50,5)': 'String' });

const READ_SETTINGS = { output_format_decimal_trailing_zeros: 1, output_format_json_quote_denormals: 1 } as const;

function floatOf(s: string): number {
  if (s === 'nan' || s === '-nan') return NaN;
  if (s === 'inf' || s === '+inf') return Infinity;
  if (s === '-inf') return -Infinity;
  return Number(s);
}

/** A value as read (JSON) → canonical form of `column`. */
function canonOf(v: unknown, column: CanonColumn): Canon {
  if (v === null || v === undefined) return null;
  if (column.valueKind === 'array') {
    if (!Array.isArray(v)) return `not an array: ${JSON.stringify(v)}`;
    const element: CanonColumn = { ...column, pgType: column.pgType.replace(/_([^._]+)$/, '$1'), valueKind: column.elementKind ?? 'text' };
    return v.map((e) => canonOf(e, element));
  }
  if (column.valueKind === 'bytes' && typeof v === 'string') return v.toLowerCase();
  if (column.valueKind === 'float' && typeof v === 'string') return canonicalValue(floatOf(v), column);
  if (typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return canonicalValue(v, column);
  return `unexpected value ${JSON.stringify(v)}`;
}

/** Reads every table of `schemas` from database `db` (FINAL when `final`). */
export async function readClickhouseTables(server: ClickhouseServer, db: string, schemas: TableSchema[], final: boolean): Promise<Map<string, CanonicalRow[]>> {
  const out = new Map<string, CanonicalRow[]>();
  for (const s of schemas) {
    const [exists] = await server.rows<{ n: string }>(`SELECT count() AS n FROM system.tables WHERE database = '${db}' AND name = '${s.name}'`);
    if (Number(exists!.n) === 0) {
      out.set(tableKey(s), []);
      continue;
    }
    const cols = s.columns.map((c) => {
      const q = '`' + c.name + '`';
      if (c.valueKind === 'bytes') return `hex(${q}) AS ${q}`;
      if (c.valueKind === 'float') return `if(isNull(${q}), NULL, toString(${q})) AS ${q}`;
      return q;
    });
    const rs = await server.client.query({
      query: `SELECT ${cols.join(', ')} FROM \`${db}\`.\`${s.name}\`${final ? ' FINAL' : ''}`,
      format: 'JSONEachRow',
      clickhouse_settings: READ_SETTINGS,
    });
    const rows = await rs.json<Record<string, unknown>>();
    out.set(
      tableKey(s),
      rows.map((r) => Object.fromEntries(s.columns.map((c) => [c.name, canonOf(r[c.name], c)]))),
    );
  }
  return out;
}

export function clickhouseSubject(applyMode: 'versioned' | 'mutations' = 'versioned'): ConformanceSubject {
  let server: ClickhouseServer | undefined;
  return {
    type: 'clickhouse',
    label: `clickhouse (apply_mode=${applyMode})`,
    applies: applyMode === 'versioned' ? 'versioned_append' : 'in_place',
    // Every write of the crash scenario runs a synchronous mutation (~1.5 s each on chdb).
    crashTimeoutMs: applyMode === 'mutations' ? 300_000 : undefined,
    async start() {
      server = await startClickhouseServer();
    },
    async stop() {
      await server?.dispose();
    },
    async target(scenario) {
      const db = `conf_${applyMode}_${scenario}`;
      const options: Record<string, string> = { dsn: server!.dsn, database: db, apply_mode: applyMode };
      if (scenario === 'types') options.type_mappings = EDGE_VALUE_MAPPINGS;
      return {
        options,
        read: async (schemas) => ({ shape: 'rows', tables: await readClickhouseTables(server!, db, schemas, applyMode === 'versioned') }),
      };
    },
  };
}
