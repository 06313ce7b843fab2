/**
 * Conformance reader of the `snowpipe` destination against the Snowflake stand-in (no Snowflake
 * runs here): the destination uploads files through the real snowflake-sdk and COPYs them into one
 * append-only table per scenario (`append_mode`: every change a row with its operation and
 * position). The reader replays that table the way a consumer would: rows in stream order (the
 * delete of a key change's old key first), the latest per key, deletes removing the key (with
 * `__ds_is_deleted` in the view, kept and flagged), a truncate clearing every key.
 */
import type { DuckDBValue } from '@duckdb/node-api';
import { tableKey, type TableSchema } from '../../../src/core/change';
import { SnowflakeStandIn } from '../../support/peers/snowflake/standIn';
import type { CanonicalRow } from '../canonical';
import type { ConformanceSubject } from '../subject';
import { canonOf } from './snowflake';

/** The one COPY target of a scenario (`table` is a single table: a scenario of several tables is skipped). */
const TABLE = 'changes';
const APPEND_KEY = ['__ds_lsn', '__ds_seq'];
const ONE_TABLE = 'two source tables; COPY INTO loads the one table `table` names';

type Record = { [column: string]: DuckDBValue };

function replay(records: Record[], view: TableSchema): Record[] {
  if (view.primaryKey.join() === APPEND_KEY.join()) return records;
  const soft = view.columns.some((c) => c.name === '__ds_is_deleted');
  const keyOf = (r: Record): string => JSON.stringify(view.primaryKey.map((k) => String(r[k])));
  const rows = new Map<string, Record>();
  for (const r of records) {
    const op = String(r.__ds_op);
    if (op === 'truncate') {
      if (!soft) rows.clear();
      else for (const [k, row] of rows) rows.set(k, { ...row, __ds_is_deleted: true, __ds_op: 'truncate' });
    } else if (op === 'delete') {
      const k = keyOf(r);
      if (!soft) rows.delete(k);
      else rows.set(k, { ...(rows.get(k) ?? r), __ds_is_deleted: true, __ds_op: 'delete' });
    } else rows.set(keyOf(r), { ...r, __ds_is_deleted: false });
  }
  return [...rows.values()];
}

export async function readSnowpipeTables(standIn: SnowflakeStandIn, schema: string, views: TableSchema[]): Promise<Map<string, CanonicalRow[]>> {
  const out = new Map<string, CanonicalRow[]>();
  const exists = await standIn.query(`SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = '${schema}' AND table_name = '${TABLE}'`);
  const records =
    Number(exists[0]!.n) === 0
      ? []
      : ((await standIn.query(
          `SELECT * FROM "${schema}"."${TABLE}" ORDER BY CAST("__ds_lsn" AS HUGEINT), CAST("__ds_seq" AS BIGINT), "__ds_op" <> 'delete'`,
        )) as Record[]);
  for (const view of views)
    out.set(
      tableKey(view),
      replay(records, view).map((r) => Object.fromEntries(view.columns.map((c) => [c.name, canonOf(r[c.name] ?? null, c)]))),
    );
  return out;
}

export function snowpipeSubject(): ConformanceSubject {
  let standIn: SnowflakeStandIn | undefined;
  return {
    type: 'snowpipe',
    label: 'snowpipe (stand-in, real snowflake-sdk)',
    applies: 'eventually_visible',
    crashTimeoutMs: 400_000,
    // Scenarios of two source tables: COPY INTO loads into the one table `table` names, and a
    // record does not say which source table it came from (use one snowpipe destination per table).
    skip: {
      'several tables in one flow': ONE_TABLE,
      truncate: ONE_TABLE,
      'parallelism > 1': ONE_TABLE,
    },
    skipTable: { partial: ONE_TABLE },
    async start() {
      standIn = await SnowflakeStandIn.start();
    },
    async stop() {
      await standIn?.stop();
    },
    async target(scenario) {
      const s = standIn!;
      return {
        options: { dsn: s.dsn(), stage: 'CONFORMANCE', stage_path: scenario, schema: scenario, table: TABLE, append_mode: 'true' },
        read: async (views) => ({ shape: 'rows', tables: await readSnowpipeTables(s, scenario, views) }),
      };
    },
  };
}
