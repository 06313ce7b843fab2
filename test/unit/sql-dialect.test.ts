/**
 * The shared SQL layer is driven by its dialect object: here a second dialect (MERGE upserts, as
 * Snowflake needs) runs the same writer on a real DuckDB session and gives the same rows.
 */
import { silentLogger } from '../../src/core/log';
import { openDuckdb, type DuckdbHandle } from '../../src/destinations/duckdb/client';
import { duckdbDialect } from '../../src/destinations/duckdb/dialect';
import { qualified, type SqlDialect } from '../../src/destinations/sql/dialect';
import { readWarehouseOptions } from '../../src/destinations/sql/options';
import type { SqlSession } from '../../src/destinations/sql/session';
import { WarehouseWriter } from '../../src/destinations/sql/writer';
import { OptionReader } from '../../src/config/options';
import { ChangeLog, table } from '../support/changes';

const mergeDialect: SqlDialect = {
  ...duckdbDialect,
  name: 'merge-upserts',
  upsert(t, columns, key, select) {
    const q = (c: string): string => this.quoteIdent(c);
    const on = key.map((k) => `t.${q(k)} = s.${q(k)}`).join(' AND ');
    const rest = columns.filter((c) => !key.includes(c));
    const update = rest.length ? ` WHEN MATCHED THEN UPDATE SET ${rest.map((c) => `${q(c)} = s.${q(c)}`).join(', ')}` : '';
    const names = columns.map(q).join(', ');
    return (
      `MERGE INTO ${qualified(this, t)} AS t USING (SELECT * FROM (${select}) AS x (${names})) AS s ON ${on}${update} ` +
      `WHEN NOT MATCHED THEN INSERT (${names}) VALUES (${columns.map((c) => `s.${q(c)}`).join(', ')})`
    );
  },
};

/** Records every statement the writer sends. */
function recording(session: SqlSession, log: string[]): SqlSession {
  return {
    execute: (sql) => (log.push(sql), session.execute(sql)),
    executeScript: (st) => (log.push(...st), session.executeScript(st)),
    query: (sql) => (log.push(sql), session.query(sql)),
    load: (t, c, n) => session.load(t, c, n),
  };
}

const users = table('public.users', { id: 'int8', name: 'text', bio: 'text' }, { primaryKey: ['id'] });
const handles: DuckdbHandle[] = [];
afterAll(() => handles.forEach((h) => h.close()));

async function run(dialect: SqlDialect): Promise<{ rows: unknown[]; statements: string[] }> {
  const h = await openDuckdb(':memory:', 'd.dsn');
  handles.push(h);
  const statements: string[] = [];
  const writer = WarehouseWriter.transactional({
    session: recording(h.session, statements),
    dialect,
    options: readWarehouseOptions(new OptionReader({}, 'd'), 'd'),
    flowId: 'f',
    log: silentLogger,
  });
  const log = new ChangeLog('f');
  log.tx((t) => t.insert(users, { id: 1n, name: 'a', bio: 'long' }).insert(users, { id: 2n, name: 'b', bio: null }));
  await writer.write(log.batch());
  log.tx((t) => t.update(users, { id: 3n, name: 'moved' }, { before: { id: 1n }, unchangedToast: ['bio'] }).update(users, { id: 2n, name: 'b2', bio: 'x' }));
  const b = log.batch();
  await writer.write(b);
  await writer.write(b);
  const rows = (await h.connection.runAndReadAll('SELECT CAST(id AS VARCHAR) AS id, name, bio FROM public.users ORDER BY id')).getRowObjectsJson();
  return { rows, statements };
}

test('a dialect with MERGE upserts gives the same rows as the DuckDB dialect', async () => {
  const native = await run(duckdbDialect);
  const merged = await run(mergeDialect);
  expect(native.rows).toEqual([
    { id: '2', name: 'b2', bio: 'x' },
    { id: '3', name: 'moved', bio: 'long' },
  ]);
  expect(merged.rows).toEqual(native.rows);
  expect(merged.statements.some((s) => s.startsWith('MERGE INTO "public"."users"'))).toBe(true);
  expect(merged.statements.some((s) => s.includes('ON CONFLICT') && s.includes('"public"."users"'))).toBe(false);
});
