/**
 * A schema change applied while a table is staged (`batch_mode=staging`): the destination alters
 * the staging table and the target alike, rows staged before and after the change resolve into
 * the target, and each reads back with its own shape (the new column NULL in older rows). Against
 * DuckDB and ClickHouse (26, chdb behind its HTTP interface), whose `append` resolution copies the
 * staging table's columns into the target.
 */
import '../../src/destinations';
import type { TableSchema } from '../../src/core/change';
import { diffTableSchemas, type SchemaChange } from '../../src/core/schemaChange';
import type { Destination, SchemaEvolving, Staged } from '../../src/destinations/destination';
import { getDestinationKind } from '../../src/destinations/registry';
import { ChangeLog, destinationContext, table } from '../support/changes';
import { duckdbTestKit, tableText } from '../support/duckdb';
import { startClickhouseServer, type ClickhouseServer } from '../support/peers/clickhouseServer';

const kit = duckdbTestKit();
let ch: ClickhouseServer;

beforeAll(async () => {
  ch = await startClickhouseServer();
}, 60_000);
afterAll(async () => {
  await ch.dispose();
});

const before = table('public.orders', { id: 'int8', item: 'text' }, { primaryKey: ['id'] });
const after: TableSchema = { ...before, columns: [...before.columns, table('public.orders', { qty: 'int4' }).columns[0]!] };
const change: SchemaChange = { table: after, before, after, changes: diffTableSchemas(before, after) };

/** Stages one row in each shape with the change between them, then resolves into the target. */
async function stageAcrossTheChange(d: Destination & SchemaEvolving & Staged): Promise<void> {
  const log = new ChangeLog();
  log.tx((t) => t.insert(before, { id: 1n, item: 'old shape' }));
  await d.write(log.batch());
  await d.applySchemaChange(change);
  await d.applySchemaChange(change); // idempotent
  log.tx((t) => t.insert(after, { id: 2n, item: 'new shape', qty: 7 }));
  await d.write(log.batch());
  await d.resolveStaging([after], 'append');
}

test('DuckDB: staging and target follow the change; both rows resolve with their shapes', async () => {
  const d = await kit.destination({ dsn: kit.newFile(), batch_mode: 'staging', batch_resolution: 'append' });
  await stageAcrossTheChange(d);
  expect(await tableText(d, 'public.orders')).toEqual([
    { id: '1', item: 'old shape', qty: null },
    { id: '2', item: 'new shape', qty: '7' },
  ]);
});

test('ClickHouse: staging and target follow the change; both rows resolve with their shapes', async () => {
  const kind = getDestinationKind('clickhouse', 'destinations[0].type');
  const d = (await kind.create(
    kind.parseConfig({ dsn: ch.dsn, database: 'staged_ddl', batch_mode: 'staging', batch_resolution: 'append' }, 'destinations[0].options'),
    destinationContext('staged-flow'),
  )) as Destination & SchemaEvolving & Staged;
  await d.open();
  try {
    await stageAcrossTheChange(d);
  } finally {
    await d.close();
  }
  expect(await ch.rows('SELECT toString(id) AS id, item, qty FROM staged_ddl.orders FINAL ORDER BY id')).toEqual([
    { id: '1', item: 'old shape', qty: null },
    { id: '2', item: 'new shape', qty: 7 },
  ]);
}, 120_000);
