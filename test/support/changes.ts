/**
 * Concise builders of `Column`, `TableSchema`, `Change` and `Batch` values for destination tests,
 * so a test states rows and operations, and positions (LSN, seq, xid, commit time) follow
 * the stream order by themselves.
 *
 *   const users = table('public.users', { id: 'int8', name: 'text' }, { primaryKey: ['id'] });
 *   const log = new ChangeLog('flow-1');
 *   log.tx((t) => { t.insert(users, { id: 1n, name: 'a' }); t.update(users, { id: 1n, name: 'b' }); });
 *   const batch = log.batch();             // every change since the previous batch()
 */
import type { Batch, Change, Column, ReplicaIdentity, Row, TableSchema, ValueKind } from '../../src/core/change';
import { tableKey } from '../../src/core/change';
import { silentLogger } from '../../src/core/log';
import type { Lsn } from '../../src/core/lsn';
import type { EncodedBatch } from '../../src/destinations/destination';
import type { DestinationContext } from '../../src/destinations/registry';
import type { WireFormat } from '../../src/wire/codec';

/** OID and value kind of common PostgreSQL types (`_x` = array of x). */
const TYPES: Record<string, { oid: number; kind: ValueKind; formatted: string }> = {
  bool: { oid: 16, kind: 'bool', formatted: 'boolean' },
  int2: { oid: 21, kind: 'int', formatted: 'smallint' },
  int4: { oid: 23, kind: 'int', formatted: 'integer' },
  int8: { oid: 20, kind: 'bigint', formatted: 'bigint' },
  oid: { oid: 26, kind: 'int', formatted: 'oid' },
  float4: { oid: 700, kind: 'float', formatted: 'real' },
  float8: { oid: 701, kind: 'float', formatted: 'double precision' },
  numeric: { oid: 1700, kind: 'numeric', formatted: 'numeric' },
  text: { oid: 25, kind: 'text', formatted: 'text' },
  varchar: { oid: 1043, kind: 'text', formatted: 'character varying' },
  bpchar: { oid: 1042, kind: 'text', formatted: 'character' },
  name: { oid: 19, kind: 'text', formatted: 'name' },
  bytea: { oid: 17, kind: 'bytes', formatted: 'bytea' },
  json: { oid: 114, kind: 'json', formatted: 'json' },
  jsonb: { oid: 3802, kind: 'json', formatted: 'jsonb' },
  uuid: { oid: 2950, kind: 'text', formatted: 'uuid' },
  date: { oid: 1082, kind: 'date', formatted: 'date' },
  timestamp: { oid: 1114, kind: 'timestamp', formatted: 'timestamp without time zone' },
  timestamptz: { oid: 1184, kind: 'timestamptz', formatted: 'timestamp with time zone' },
  time: { oid: 1083, kind: 'time', formatted: 'time without time zone' },
  timetz: { oid: 1266, kind: 'time', formatted: 'time with time zone' },
  interval: { oid: 1186, kind: 'interval', formatted: 'interval' },
};

const ARRAY_OIDS: Record<string, number> = {
  bool: 1000,
  int2: 1005,
  int4: 1007,
  int8: 1016,
  float4: 1021,
  float8: 1022,
  numeric: 1231,
  text: 1009,
  varchar: 1015,
  bytea: 1001,
  json: 199,
  jsonb: 3807,
  uuid: 2951,
  date: 1182,
  timestamp: 1115,
  timestamptz: 1185,
  time: 1183,
  interval: 1187,
};

/**
 * A column from a type spec: `int8`, `numeric(30,10)`, `varchar(20)`, `_int4` or `int4[]` (arrays),
 * or any other name (an enum or extension type such as `public.mood`: text values).
 */
export function column(name: string, spec: string, opts: { nullable?: boolean } = {}): Column {
  let t = spec.trim();
  let array = false;
  if (t.endsWith('[]')) {
    array = true;
    t = t.slice(0, -2);
  } else if (t.startsWith('_')) {
    array = true;
    t = t.slice(1);
  }
  const mod = /^(\w+)\((\d+)(?:,\s*(-?\d+))?\)$/.exec(t);
  const base = mod ? mod[1]! : t;
  let typmod = -1;
  if (mod && base === 'numeric') typmod = ((Number(mod[2]) << 16) | (Number(mod[3] ?? '0') & 0x7ff)) + 4;
  else if (mod) typmod = Number(mod[2]) + 4;
  const known = TYPES[base];
  const kind: ValueKind = known?.kind ?? 'text';
  const formattedBase = mod ? `${known?.formatted ?? base}(${mod[2]}${mod[3] !== undefined ? ',' + mod[3] : ''})` : (known?.formatted ?? base);
  return {
    name,
    pgType: array ? (base.includes('.') ? base.replace(/\.([^.]+)$/, '._$1') : `_${base}`) : base,
    typeOid: array ? (ARRAY_OIDS[base] ?? 0) : (known?.oid ?? 0),
    typmod,
    formattedType: array ? `${formattedBase}[]` : formattedBase,
    nullable: opts.nullable ?? true,
    valueKind: array ? 'array' : kind,
    elementKind: array ? kind : undefined,
  };
}

let nextRelationId = 16_384;

/** A table schema: `name` is `schema.table`; columns as `{ name: spec }` (in order) or Column values. */
export function table(
  name: string,
  columns: Record<string, string> | Column[],
  opts: { primaryKey?: string[]; replicaIdentity?: ReplicaIdentity } = {},
): TableSchema {
  const dot = name.indexOf('.');
  const cols = Array.isArray(columns) ? columns : Object.entries(columns).map(([n, spec]) => column(n, spec));
  return {
    schema: dot < 0 ? 'public' : name.slice(0, dot),
    name: dot < 0 ? name : name.slice(dot + 1),
    relationId: nextRelationId++,
    columns: cols,
    primaryKey: opts.primaryKey ?? [],
    replicaIdentity: opts.replicaIdentity ?? 'default',
  };
}

function pick(row: Row, names: string[]): Row {
  const out: Row = {};
  for (const n of names) if (n in row) out[n] = row[n]!;
  return out;
}

/** Builds the changes of one transaction; positions are assigned by {@link ChangeLog.tx}. */
export class TxBuilder {
  readonly drafts: Array<Omit<Change, 'lsn' | 'commitLsn' | 'commitEndLsn' | 'commitTimeMicros' | 'xid' | 'seq'> & { schema: TableSchema }> = [];

  insert(t: TableSchema, after: Row): this {
    this.drafts.push({ op: 'insert', table: ref(t), schema: t, key: pick(after, t.primaryKey), before: null, after: { ...after }, unchangedToast: [] });
    return this;
  }

  /**
   * An update to `after`. `before`: the old row (a key change, or REPLICA IDENTITY FULL).
   * `unchangedToast`: columns dropped from `after` as the source does for unchanged TOAST values.
   */
  update(t: TableSchema, after: Row, opts: { before?: Row; unchangedToast?: string[] } = {}): this {
    const toast = opts.unchangedToast ?? [];
    const a: Row = { ...after };
    for (const c of toast) delete a[c];
    const before = opts.before ? { ...opts.before } : null;
    const keyCols = t.primaryKey.length > 0 ? t.primaryKey : t.columns.map((c) => c.name);
    const key = pick(before ?? after, keyCols);
    this.drafts.push({ op: 'update', table: ref(t), schema: t, key, before, after: a, unchangedToast: toast });
    return this;
  }

  /** A delete of the row whose key (or, for REPLICA IDENTITY FULL, whole old row) is `old`. */
  delete(t: TableSchema, old: Row): this {
    const full = t.replicaIdentity === 'full';
    const key = pick(old, t.primaryKey.length > 0 ? t.primaryKey : Object.keys(old));
    this.drafts.push({ op: 'delete', table: ref(t), schema: t, key, before: full ? { ...old } : null, after: null, unchangedToast: [] });
    return this;
  }

  truncate(t: TableSchema, opts: { cascade?: boolean; restartIdentity?: boolean } = {}): this {
    this.drafts.push({
      op: 'truncate',
      table: ref(t),
      schema: t,
      key: {},
      before: null,
      after: null,
      unchangedToast: [],
      truncateOptions: { cascade: opts.cascade ?? false, restartIdentity: opts.restartIdentity ?? false },
    });
    return this;
  }
}

function ref(t: TableSchema): { schema: string; name: string } {
  return { schema: t.schema, name: t.name };
}

/**
 * A source stream: transactions get increasing LSNs, xids and commit times (one second apart from
 * 2024-01-01T00:00:00Z); `batch()` hands out every change since the previous call.
 */
export class ChangeLog {
  private lsn: Lsn;
  private xid = 1000;
  private commitTime = 1_704_067_200_000_000n;
  private pending: Change[] = [];
  private readonly schemas = new Map<string, TableSchema>();
  readonly all: Change[] = [];

  constructor(
    readonly flowId = 'flow-1',
    startLsn: Lsn = 0x1_0000_0000n,
  ) {
    this.lsn = startLsn;
  }

  tx(build: (t: TxBuilder) => void): Change[] {
    const b = new TxBuilder();
    build(b);
    const base = this.lsn;
    this.lsn += BigInt(b.drafts.length + 1) * 0x40n;
    const commitLsn = this.lsn;
    this.commitTime += 1_000_000n;
    const xid = this.xid++;
    const changes = b.drafts.map(({ schema, ...d }, seq): Change => {
      this.schemas.set(tableKey(schema), schema);
      return { ...d, lsn: base + BigInt(seq + 1) * 0x40n, commitLsn, commitEndLsn: commitLsn + 0x30n, commitTimeMicros: this.commitTime, xid, seq };
    });
    this.pending.push(...changes);
    this.all.push(...changes);
    return changes;
  }

  /** Every change since the previous `batch()`, as one batch. */
  batch(): EncodedBatch {
    const changes = this.pending;
    this.pending = [];
    return this.batchOf(changes);
  }

  /** A batch of the given changes (in the order given), with the schemas of their tables. */
  batchOf(changes: Change[]): EncodedBatch {
    const schemas = new Map<string, TableSchema>();
    for (const c of changes) schemas.set(tableKey(c.table), this.schemas.get(tableKey(c.table))!);
    const last = changes.at(-1);
    const batch: Batch = {
      flowId: this.flowId,
      changes,
      schemas,
      firstLsn: changes[0]?.lsn ?? this.lsn,
      checkpointLsn: last ? last.commitEndLsn : this.lsn,
    };
    return encodedBatch(batch);
  }
}

/** A batch for destinations that write typed rows: asking it for encodings is a test bug. */
export function encodedBatch(batch: Batch): EncodedBatch {
  const fail = (format: WireFormat): never => {
    throw new Error(`this test batch has no ${format} encoding (build one with the codec under test)`);
  };
  return { ...batch, messages: fail, files: fail };
}

/** A DestinationContext for tests: silent logger, parallelism 1, json wire format. */
export function destinationContext(flowId = 'flow-1', name = 'dest'): DestinationContext {
  return { flowId, name, wireFormat: 'json', parallelism: 1, log: silentLogger };
}
