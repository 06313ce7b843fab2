import type { Change } from '../../core/change';
import type { Lsn } from '../../core/lsn';
import { metaColumn, type MetaColumn, type TableLayout } from '../sql/layout';
import type { PlannedRow } from '../sql/plan';
import { TEXT, type LogicalType } from '../sql/types';
import { conversionError, fieldEncoder, timestampText, TSV_NULL, type FieldEncoder } from './tsv';
import { clickhouseTypeName, columnType, quoteIdent, quoteString } from './types';

/** Engine columns of versioned tables: `ReplacingMergeTree(__ds_version, __ds_row_deleted)`. */
export const VERSION_COLUMN = '__ds_version';
export const ROW_DELETED_COLUMN = '__ds_row_deleted';

/**
 * A stream position as one UInt128, ordered as (commit LSN, seq): `commitLsn * 2^64 + seq`. Snapshot
 * rows (backfill, `op: 'read'`) have negative seqs: they borrow from the LSN part, so they sort below
 * every streamed change of their LSN and above every change of an earlier one (an OR of the two
 * parts would make a negative seq a negative, invalid, version).
 */
export function versionOf(p: { commitLsn: Lsn; seq: number }): bigint {
  return (p.commitLsn << 64n) + BigInt(p.seq);
}

/** The last commit LSN whose version text was cut into a prefix and low digits (a transaction's rows share it). */
let cachedLsn: Lsn | undefined;
/** Decimal digits of `commitLsn * 2^64` above the last nine, and the last nine as a number. */
let cachedHigh = '';
let cachedLow = 0;
const LOW = 1_000_000_000;

/**
 * {@link versionOf} as decimal text (the TSV field), without BigInt arithmetic per row: the text of
 * `commitLsn * 2^64` is cut once per commit LSN, and a seq that does not carry past its last nine
 * digits is added to them as a number. Anything else (negative seqs, carries, LSN 0) takes BigInt.
 */
export function versionText(p: { commitLsn: Lsn; seq: number }): string {
  if (p.commitLsn !== cachedLsn) {
    const base = p.commitLsn << 64n;
    cachedLsn = p.commitLsn;
    cachedHigh = base >= BigInt(LOW) ? (base / BigInt(LOW)).toString() : '';
    cachedLow = Number(base % BigInt(LOW));
  }
  const low = cachedLow + p.seq;
  if (cachedHigh !== '' && p.seq >= 0 && low < LOW && Number.isSafeInteger(p.seq)) return cachedHigh + String(low).padStart(9, '0');
  return versionOf(p).toString();
}

/** Destination values (TSV fields as ClickHouse wrote them) of rows this batch fills from, by column. */
export type FillLookup = (row: PlannedRow) => Map<string, string> | undefined;

/**
 * Rows encoded into one string before it becomes bytes. A string of a few hundred lines flattens
 * and encodes as UTF-8 in one cheap pass; joining a whole batch of lines (or appending each field
 * to a Buffer) costs several times more CPU and garbage.
 */
const ROWS_PER_CHUNK = 256;

/**
 * The columns of one table's insert, in order, and how each row's field is made. Rows are kept as
 * UTF-8 TabSeparated bytes (each line ending in `\n`), ready to send as an INSERT's body.
 */
export class TsvRows {
  readonly columns: string[];
  private readonly encoders: FieldEncoder[];
  /** Encoded chunks of {@link ROWS_PER_CHUNK} rows, then the rows of `pending`. */
  private readonly chunks: Buffer[] = [];
  private pending = '';
  private pendingRows = 0;
  private rows = 0;

  /** ClickHouse type of each column, in order. */
  private readonly types: string[];

  constructor(
    private readonly layout: TableLayout,
    /** Append the engine columns (versioned tables). */
    private readonly versioned: boolean,
  ) {
    this.columns = [...layout.columns.map((c) => c.name), ...layout.meta.map((m) => m.name)];
    this.encoders = layout.columns.map((c) => fieldEncoder(c.load));
    const keyed = layout.mode === 'target' ? new Set(layout.key) : new Set<string>();
    this.types = [...layout.columns.map((c) => columnType(c.ddlType, c.source, keyed.has(c.name))), ...layout.meta.map((m) => clickhouseTypeName(m.type))];
    if (versioned) {
      this.columns.push(VERSION_COLUMN, ROW_DELETED_COLUMN);
      this.types.push('UInt128', 'UInt8');
    }
  }

  /**
   * The INSERT of the rows added, or undefined when a plain `INSERT … FORMAT TabSeparated` with the
   * rows as data does: ClickHouse cannot parse every `Variant` from text (a nullable array of
   * decimals), so a table with such a column is written with `INSERT … SELECT … FROM format(…)`,
   * its text CAST to the array type (NULL stays NULL).
   */
  variantInsert(table: string): string | undefined {
    if (!this.types.some((t) => t.startsWith('Variant('))) return undefined;
    const q = quoteIdent;
    const s = quoteString;
    const structure = this.columns.map((c, i) => `${q(c)} ${this.types[i]!.startsWith('Variant(') ? 'Nullable(String)' : this.types[i]!}`).join(', ');
    const exprs = this.columns.map((c, i) => {
      const t = this.types[i]!;
      if (!t.startsWith('Variant(')) return q(c);
      const inner = t.slice('Variant('.length, -1);
      return `if(isNull(${q(c)}), NULL, CAST(${q(c)} AS ${inner}))::${t}`;
    });
    return `INSERT INTO ${table} (${this.columns.map(q).join(', ')}) SELECT ${exprs.join(', ')} FROM format(TabSeparated, ${s(structure)}, ${s(this.text())})`;
  }

  get rowCount(): number {
    return this.rows;
  }

  /** The TSV bytes of every row added (UTF-8, each row ending in a newline). */
  data(): Buffer {
    if (this.pendingRows > 0) this.flush();
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
  }

  /** The TSV text of every row added (each ending in a newline). */
  text(): string {
    return this.data().toString('utf8');
  }

  private flush(): void {
    this.chunks.push(Buffer.from(this.pending, 'utf8'));
    this.pending = '';
    this.pendingRows = 0;
  }

  /**
   * Adds a row: data values from `values`, then from `filled` (destination fields) for the
   * columns in `fill`; metadata from `change` and `deleted`; `rowDeleted` marks a versioned delete.
   */
  add(
    row: { values: PlannedRow['values']; fill: string[]; change: Change; deleted: boolean },
    filled: Map<string, string> | undefined,
    rowDeleted: boolean,
  ): void {
    // One string built by concatenation: no per-row array of fields.
    let line = '';
    const cols = this.layout.columns;
    const values = row.values;
    const fill = row.fill.length > 0 ? row.fill : undefined;
    for (let i = 0; i < cols.length; i++) {
      const c = cols[i]!;
      const v = values[c.name];
      let field: string;
      if (v === undefined && fill !== undefined && fill.includes(c.name)) field = filled?.get(c.name) ?? TSV_NULL;
      else {
        try {
          field = this.encoders[i]!(v ?? null);
        } catch (e) {
          throw conversionError(c.name, c.load, e);
        }
      }
      line = i === 0 ? field : line + '\t' + field;
    }
    let n = cols.length;
    for (const m of this.layout.meta) line = n++ === 0 ? metaField(m, row.change, row.deleted) : line + '\t' + metaField(m, row.change, row.deleted);
    if (this.versioned) line += (n === 0 ? '' : '\t') + versionText(row.change) + (rowDeleted ? '\t1' : '\t0');
    this.pending = this.pending + line + '\n';
    this.rows++;
    if (++this.pendingRows === ROWS_PER_CHUNK) this.flush();
  }
}

const encodeText = fieldEncoder(TEXT);
const encodeBigint = fieldEncoder({ kind: 'bigint' });

let syncedMs = -1;
let syncedText = '';

/** Now as a `synced_at` value, converted once per millisecond. */
function syncedAtText(): string {
  const ms = Date.now();
  if (ms !== syncedMs) {
    syncedMs = ms;
    syncedText = timestampText(BigInt(ms) * 1000n);
  }
  return syncedText;
}

/** The value of a metadata column for a row whose last change is `c`. */
export function metaField(m: MetaColumn, c: Change, deleted: boolean): string {
  switch (m.role) {
    case 'op':
      return encodeText(c.op);
    case 'synced_at':
      return syncedAtText();
    case 'deleted':
      return deleted ? 'true' : 'false';
    case 'watermark':
      return m.type.kind === 'lsn' ? c.commitLsn.toString() : timestampText(c.commitTimeMicros);
    case 'lsn':
      return c.commitLsn.toString();
    case 'seq':
      return encodeBigint(BigInt(c.seq));
    case 'commit_time':
      return timestampText(c.commitTimeMicros);
  }
}

/** The ClickHouse expression of a metadata column's value for change `c` (INSERT … SELECT). */
export function metaLiteral(m: MetaColumn, c: Change, deleted: boolean, quote: (s: string) => string): string {
  const text = metaField(m, c, deleted);
  const type: LogicalType = m.type;
  if (type.kind === 'boolean' || type.kind === 'lsn' || type.kind === 'bigint') return text;
  return quote(text);
}

/** True when the layout has a soft-delete flag column. */
export function hasDeletedFlag(layout: TableLayout): boolean {
  return metaColumn(layout, 'deleted') !== undefined;
}
