import type { WatermarkMove } from '../sql/apply-strategy';
import type { QualifiedName } from '../sql/dialect';
import { watermarkMapKey, type Watermark, type WatermarkKey } from '../sql/meta-table';
import type { ClickhouseConnection } from './client';
import { META_COLUMNS } from './config';
import { createDatabase } from './ddl';
import { escapeText, timestampText } from './tsv';
import { qualifiedName, quoteIdent, quoteString } from './types';

/** Where the meta table lives in ClickHouse. */
export const CLICKHOUSE_META_TABLE: QualifiedName = { schema: 'ductstream_meta', name: '__metadata' };

const q = quoteIdent;
const s = quoteString;

const TYPES: Record<(typeof META_COLUMNS)[number], string> = {
  flow_id: 'String',
  source_schema: 'String',
  source_table: 'String',
  target_schema: 'String',
  target_table: 'String',
  key_json: 'String',
  commit_lsn: 'UInt64',
  // Signed: snapshot rows of a backfill sit at negative seqs (meta tables made before are altered by ensure()).
  seq: 'Int64',
  commit_time: "DateTime64(6, 'UTC')",
  updated_at: "DateTime64(6, 'UTC')",
};

/**
 * The ClickHouse meta table (`meta_table_enabled`): a row per watermark move of a (flow, source
 * table, destination table), `key_json` = `["db","table"]` of the destination table. Rows are only
 * appended (written after the batch's data), and a watermark is the greatest (commit_lsn, seq) of
 * its rows, so any `meta_engine` works; `ReplacingMergeTree` keeps the table small.
 */
export class ClickhouseMeta {
  readonly table = CLICKHOUSE_META_TABLE;

  constructor(
    private readonly conn: ClickhouseConnection,
    private readonly engine: string,
    private readonly orderBy: string[],
  ) {}

  async ensure(): Promise<void> {
    await this.conn.command(createDatabase(this.table.schema));
    const defs = META_COLUMNS.map((c) => `${q(c)} ${TYPES[c]}`).join(', ');
    await this.conn.command(
      `CREATE TABLE IF NOT EXISTS ${qualifiedName(this.table)} (${defs}) ENGINE = ${this.engine} ORDER BY (${this.orderBy.map(q).join(', ')})`,
    );
    const [seq] = await this.conn.rows(
      `SELECT type FROM system.columns WHERE database = ${s(this.table.schema)} AND table = ${s(this.table.name)} AND name = 'seq'`,
    );
    if (seq && String(seq.type) === 'UInt64') await this.conn.command(`ALTER TABLE ${qualifiedName(this.table)} MODIFY COLUMN ${q('seq')} Int64`);
  }

  async read(flowId: string): Promise<Map<string, Watermark>> {
    const rows = await this.conn.rows(
      `SELECT source_schema, source_table, target_schema, target_table, toString(max((commit_lsn, seq))) AS pos ` +
        `FROM ${qualifiedName(this.table)} WHERE flow_id = ${s(flowId)} GROUP BY source_schema, source_table, target_schema, target_table`,
    );
    const out = new Map<string, Watermark>();
    for (const r of rows) {
      const [lsn, seq] = String(r.pos).replace(/[()]/g, '').split(',');
      const key = watermarkMapKey(
        { schema: String(r.source_schema), name: String(r.source_table) },
        { schema: String(r.target_schema), name: String(r.target_table) },
      );
      out.set(key, { commitLsn: BigInt(lsn!.trim()), seq: Number(seq!.trim()) });
    }
    return out;
  }

  /** Appends the new watermarks (after the data they cover is written). */
  async write(moves: WatermarkMove[]): Promise<void> {
    const now = timestampText(BigInt(Date.now()) * 1000n);
    const lines = moves.map((m) => [...keyFields(m.key), m.to.commitLsn.toString(), String(m.to.seq), timestampText(m.commitTimeMicros), now].join('\t'));
    await this.conn.insertTsv(qualifiedName(this.table), [...META_COLUMNS], lines.join('\n') + '\n');
  }

  /** Removes every watermark row of `key` (lightweight DELETE). */
  async remove(key: WatermarkKey): Promise<void> {
    const [flow, ss, st, ts, tt] = [key.flowId, key.source.schema, key.source.name, key.target.schema, key.target.name].map(s);
    await this.conn.command(
      `DELETE FROM ${qualifiedName(this.table)} WHERE flow_id = ${flow} AND source_schema = ${ss} AND source_table = ${st} AND target_schema = ${ts} AND target_table = ${tt}`,
    );
  }
}

function keyFields(k: WatermarkKey): string[] {
  return [k.flowId, k.source.schema, k.source.name, k.target.schema, k.target.name, JSON.stringify([k.target.schema, k.target.name])].map((v) => escapeText(v));
}
