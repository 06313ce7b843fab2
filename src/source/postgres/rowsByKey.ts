import type { Client } from 'pg';
import type { Row, TableSchema, Value } from '../../core/change';
import { DuctError } from '../../core/errors';
import type { SourceRowReader } from '../../core/sourceRows';
import { catalogQueryOf } from './catalogQuery';
import { connectClient, endQuietly } from './connect';
import { quoteIdent, quoteTable } from './identifiers';
import { TypeRegistry } from './types/resolver';

/** Keys per query: the arrays of one query stay small. */
const KEYS_PER_QUERY = 1000;

/**
 * {@link SourceRowReader} over one lazily opened connection to the source database (`dsn`): every
 * column is read as text and parsed by the parser the stream uses for its type.
 */
export class PostgresRowReader implements SourceRowReader {
  private client?: Client;
  private types?: TypeRegistry;

  constructor(
    private readonly dsn: string,
    private readonly field: string,
    private readonly resolveTypes: boolean,
  ) {}

  async rowsByKey(schema: TableSchema, keys: readonly Row[]): Promise<Row[]> {
    if (keys.length === 0) return [];
    if (schema.primaryKey.length === 0)
      throw new DuctError('internal', `rowsByKey on ${schema.schema}.${schema.name}, which has no primary key`, { retry: 'never' });
    const client = await this.connect();
    const types = this.types!;
    await types.resolve(schema.columns.map((c) => c.typeOid));
    const parsers = schema.columns.map((c) => types.parserFor(c.typeOid).parse);
    const keyColumns = schema.primaryKey.map((k) => schema.columns.find((c) => c.name === k)!);
    const select = schema.columns.map((c, i) => `${quoteIdent(c.name)}::text AS c${i}`).join(', ');
    const tuple = keyColumns.map((c) => quoteIdent(c.name)).join(', ');
    const unnest = keyColumns.map((_c, i) => `$${i + 1}::text[]`).join(', ');
    const casts = keyColumns.map((c, i) => `k${i}::${c.formattedType}`).join(', ');
    const names = keyColumns.map((_c, i) => `k${i}`).join(', ');
    const sql = `SELECT ${select} FROM ${quoteTable(schema)} WHERE (${tuple}) IN (SELECT ${casts} FROM unnest(${unnest}) AS u(${names}))`;
    const out: Row[] = [];
    for (let start = 0; start < keys.length; start += KEYS_PER_QUERY) {
      const part = keys.slice(start, start + KEYS_PER_QUERY);
      const params = keyColumns.map((c) => part.map((k) => keyText(k[c.name])));
      let rows: Record<string, string | null>[];
      try {
        rows = (await client.query<Record<string, string | null>>(sql, params)).rows;
      } catch (e) {
        await this.close();
        throw new DuctError('source_failed', `reading rows of ${schema.schema}.${schema.name} from the source by key failed: ${(e as Error).message}`, {
          retry: 'transient',
          cause: e,
        });
      }
      for (const r of rows) {
        const row: Row = {};
        schema.columns.forEach((c, i) => {
          const text = r[`c${i}`];
          row[c.name] = text === null || text === undefined ? null : parsers[i]!(text);
        });
        out.push(row);
      }
    }
    return out;
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.types = undefined;
    await endQuietly(c);
  }

  private async connect(): Promise<Client> {
    if (this.client) return this.client;
    const client = await connectClient(this.dsn, this.field, { onError: () => undefined });
    this.client = client;
    this.types = new TypeRegistry(this.resolveTypes, catalogQueryOf(client));
    return client;
  }
}

/** A key value as PostgreSQL input text. */
function keyText(v: Value | undefined): string | null {
  if (v === undefined || v === null) return null;
  if (Buffer.isBuffer(v)) return '\\x' + v.toString('hex');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
