/**
 * The snowpipe destination against the Snowflake stand-in (DuckDB behind Snowflake's REST
 * protocol; the destination uses the real snowflake-sdk). Files are read back from the stand-in's
 * stage directory and rows from its tables.
 */
import '../../src/destinations';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { getDestinationKind } from '../../src/destinations/registry';
import type { Destination } from '../../src/destinations/destination';
import { readContainer } from '../../src/wire/avroContainer';
import { ChangeLog, destinationContext, table } from '../support/changes';
import { SnowflakeStandIn } from '../support/peers/snowflake/standIn';

const orders = table('public.orders', { id: 'int8', item: 'text', qty: 'int4' }, { primaryKey: ['id'] });

describe('snowpipe destination (Snowflake stand-in, real snowflake-sdk)', () => {
  let standIn: SnowflakeStandIn;
  const open: Destination[] = [];
  beforeAll(async () => {
    standIn = await SnowflakeStandIn.start();
  }, 60_000);
  afterEach(async () => {
    for (const d of open.splice(0)) await d.close();
  });
  afterAll(async () => standIn.stop());

  async function destination(options: Record<string, string>, flowId: string): Promise<Destination> {
    const kind = getDestinationKind('snowpipe', 'destinations[0].type');
    const d = await kind.create(kind.parseConfig({ dsn: standIn.dsn(), ...options }, 'destinations[0].options'), destinationContext(flowId));
    open.push(d);
    await d.open();
    return d;
  }

  it('uploads one file per table and batch named by stream position, COPYs it, and a replay loads nothing twice (stand-in)', async () => {
    const log = new ChangeLog('pipe');
    log.tx((x) => x.insert(orders, { id: 1n, item: 'a', qty: 1 }).insert(orders, { id: 2n, item: 'b', qty: 2 }));
    const first = log.batch();
    log.tx((x) => x.update(orders, { id: 1n, item: 'a2', qty: 5 }).delete(orders, { id: 2n }));
    const second = log.batch();
    const options = { stage: 'LANDING', stage_path: 'cdc', schema: 'pq', table: 'orders', append_mode: 'true', meta_table_enabled: 'false' };
    const d = await destination(options, 'pipe-1');
    await d.write(first);
    await d.write(second);
    await d.write(first); // a replay: same name, same bytes, skipped by the load history
    const files = standIn.stages.uploads.map((u) => u.file).filter((f) => f.startsWith('cdc/'));
    expect(files).toHaveLength(3);
    expect(files[2]).toBe(files[0]);
    expect([...new Set(files)].sort()).toEqual([...new Set(files)]);
    expect(files[0]).toMatch(/^cdc\/public\.orders\/[0-9a-f]{16}_\d{10}_[0-9a-f]{16}_\d{10}\.parquet$/);
    const rows = await standIn.query('SELECT CAST(id AS VARCHAR) AS id, item, qty, "__ds_op" AS op FROM pq.orders ORDER BY "__ds_lsn", "__ds_seq"');
    expect(rows.map((r) => [r.id, r.item, r.qty === null ? null : Number(r.qty), r.op])).toEqual([
      ['1', 'a', 1, 'insert'],
      ['2', 'b', 2, 'insert'],
      ['1', 'a2', 5, 'update'],
      ['2', null, null, 'delete'],
    ]);
    expect(
      standIn.statements.filter((s) =>
        /^COPY INTO "pq"\."orders" FROM @"LANDING"\/cdc\/public\.orders FILES = \('[0-9a-f_]+\.parquet'\) FILE_FORMAT = \(TYPE = PARQUET\) MATCH_BY_COLUMN_NAME = CASE_SENSITIVE$/.test(
          s,
        ),
      ),
    ).toHaveLength(3);
  }, 60_000);

  it('skips changes at or before the watermark with meta_table_enabled, into the table stage as JSON (stand-in)', async () => {
    const log = new ChangeLog('pipe2');
    log.tx((x) => x.insert(orders, { id: 7n, item: 'x', qty: 1 }));
    const batch = log.batch();
    const d = await destination({ schema: 'js', table: 'orders', format: 'json' }, 'pipe-2');
    await d.write(batch);
    await d.write(batch);
    const uploads = standIn.stages.uploads.filter((u) => u.stage === '"js".%"orders"');
    expect(uploads).toHaveLength(1);
    const rows = await standIn.query('SELECT CAST(id AS VARCHAR) AS id, item FROM js.orders');
    expect(rows).toEqual([{ id: '7', item: 'x' }]);
  }, 60_000);

  it('with auto_ingest=true only uploads (no COPY): an Avro file a pipe can load (stand-in)', async () => {
    const log = new ChangeLog('pipe3');
    log.tx((x) => x.insert(orders, { id: 9n, item: 'z', qty: 3 }));
    const before = standIn.statements.length;
    const d = await destination({ stage: 'PIPE_STAGE', format: 'avro', auto_ingest: 'true' }, 'pipe-3');
    await d.write(log.batch());
    const sent = standIn.statements.slice(before);
    expect(sent.some((s) => s.startsWith('PUT '))).toBe(true);
    expect(sent.some((s) => s.startsWith('COPY'))).toBe(false);
    const [file] = standIn.stages.list('"PIPE_STAGE"');
    expect(file).toMatch(/^public\.orders\/.*\.avro(\.gz)?$/);
    const raw = readFileSync(join(standIn.stages.dir('"PIPE_STAGE"', ''), file!));
    const contents = readContainer(raw[0] === 0x1f ? gunzipSync(raw) : raw);
    expect(contents.blocks.reduce((n, b) => n + b.count, 0)).toBe(1);
    expect(JSON.parse(contents.schemaJson).fields.map((f: { name: string }) => f.name)).toEqual(['id', 'item', 'qty']);
    expect(contents.blocks[0]!.data.toString('utf8')).toContain('z');
  }, 60_000);
});
