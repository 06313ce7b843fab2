import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuctError } from '../../src/core/errors';
import { duckdbTestKit, queryRows as rows, tableText } from '../support/duckdb';
import { ChangeLog, encodedBatch, table } from '../support/changes';

const kit = duckdbTestKit();
const { destination, newFile, dir } = kit;
const users = table('public.users', { id: 'int8', name: 'text', bio: 'text', score: 'numeric(10,2)' }, { primaryKey: ['id'] });

describe('tables without a primary key', () => {
  const events = table('public.events', { kind: 'text', n: 'int4', note: 'text' }, { replicaIdentity: 'full' });

  test('REPLICA IDENTITY FULL: deletes and updates match one row on all old values, NULLs included', async () => {
    const d = await destination({ dsn: newFile() });
    const log = new ChangeLog();
    log.tx((t) => {
      t.insert(events, { kind: 'a', n: 1, note: null });
      t.insert(events, { kind: 'a', n: 1, note: null });
      t.insert(events, { kind: 'b', n: 2, note: 'x' });
    });
    await d.write(log.batch());
    log.tx((t) => {
      t.delete(events, { kind: 'a', n: 1, note: null });
      t.update(events, { kind: 'b', n: 3, note: 'x' }, { before: { kind: 'b', n: 2, note: 'x' } });
      t.insert(events, { kind: 'c', n: null, note: null });
    });
    await d.write(log.batch());
    expect(await tableText(d, 'public.events', 'kind, n')).toEqual([
      { kind: 'a', n: '1', note: null },
      { kind: 'b', n: '3', note: 'x' },
      { kind: 'c', n: null, note: null },
    ]);
  });

  test('without FULL identity, inserts flow and an update is refused with the fix', async () => {
    const d = await destination({ dsn: newFile() });
    const logs = table('public.logs', { line: 'text' });
    const log = new ChangeLog();
    log.tx((t) => t.insert(logs, { line: 'one' }).insert(logs, { line: 'one' }));
    await d.write(log.batch());
    expect(await tableText(d, 'public.logs', 'line')).toEqual([{ line: 'one' }, { line: 'one' }]);
    log.tx((t) => t.update(logs, { line: 'two' }));
    const err = await d.write(log.batch()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DuctError);
    expect((err as DuctError).retry).toBe('never');
    expect((err as DuctError).message).toContain('public.logs');
    expect((err as DuctError).hint).toContain('ALTER TABLE public.logs REPLICA IDENTITY FULL');
  });
});

describe('append mode, soft delete and metadata columns', () => {
  test('write_mode=append keeps every change as a row with op, position and commit time', async () => {
    const d = await destination({ dsn: newFile(), write_mode: 'append' });
    const log = new ChangeLog();
    const [ins] = log.tx((t) => t.insert(users, { id: 1n, name: 'a', bio: 'long', score: '1.00' }));
    log.tx((t) => t.update(users, { id: 1n, name: 'b', score: '2.00' }, { unchangedToast: ['bio'] }));
    await d.write(log.batch());
    log.tx((t) => t.update(users, { id: 1n, name: 'c', score: '3.00' }, { unchangedToast: ['bio'] }).delete(users, { id: 1n }));
    log.tx((t) => t.truncate(users));
    const b = log.batch();
    await d.write(b);
    await d.write(b);
    const out = await rows(
      d,
      `SELECT CAST(id AS VARCHAR) AS id, name, bio, CAST(score AS VARCHAR) AS score, __ds_op AS op, __ds_seq AS seq, CAST(__ds_lsn AS VARCHAR) AS lsn, epoch_us(__ds_commit_time) AS t FROM public.users ORDER BY __ds_lsn, __ds_seq`,
    );
    expect(out.map((r) => [r.id, r.name, r.bio, r.score, r.op])).toEqual([
      ['1', 'a', 'long', '1.00', 'insert'],
      ['1', 'b', 'long', '2.00', 'update'],
      ['1', 'c', 'long', '3.00', 'update'],
      ['1', 'c', 'long', '3.00', 'delete'],
      [null, null, null, null, 'truncate'],
    ]);
    expect(out[0]).toMatchObject({ lsn: String(ins!.commitLsn), seq: '0', t: String(ins!.commitTimeMicros) });
  });

  test('soft_delete marks deleted rows instead of removing them; a reinsert clears the flag', async () => {
    const d = await destination({ dsn: newFile(), soft_delete: 'true' });
    const log = new ChangeLog();
    log.tx((t) => t.insert(users, { id: 1n, name: 'a', bio: null, score: null }).insert(users, { id: 2n, name: 'b', bio: null, score: null }));
    await d.write(log.batch());
    log.tx((t) => t.delete(users, { id: 1n }).insert(users, { id: 3n, name: 'c', bio: null, score: null }).delete(users, { id: 3n }));
    await d.write(log.batch());
    expect(await tableText(d, 'public.users')).toEqual([
      { id: '1', name: 'a', bio: null, score: null, __ds_is_deleted: 'true' },
      { id: '2', name: 'b', bio: null, score: null, __ds_is_deleted: 'false' },
      { id: '3', name: 'c', bio: null, score: null, __ds_is_deleted: 'true' },
    ]);
    log.tx((t) => t.insert(users, { id: 1n, name: 'back', bio: null, score: null }));
    await d.write(log.batch());
    log.tx((t) => t.truncate(users));
    await d.write(log.batch());
    expect((await tableText(d, 'public.users')).map((r) => [r.id, r.name, r.__ds_is_deleted])).toEqual([
      ['1', 'back', 'true'],
      ['2', 'b', 'true'],
      ['3', 'c', 'true'],
    ]);
  });

  test('meta_enabled adds synced-at, deleted, watermark and op columns under the configured names', async () => {
    const d = await destination({ dsn: newFile(), meta_enabled: 'true', meta_op: 'op', meta_synced_at: 'synced', meta_watermark: 'wm' });
    const log = new ChangeLog();
    const [c] = log.tx((t) => t.insert(users, { id: 1n, name: 'a', bio: null, score: null }));
    await d.write(log.batch());
    const out = await rows(d, 'SELECT op, __ds_is_deleted AS del, epoch_us(wm) AS wm, synced IS NOT NULL AND synced <= now() AS synced FROM public.users');
    expect(out).toEqual([{ op: 'insert', del: false, wm: String(c!.commitTimeMicros), synced: true }]);

    const byLsn = await destination({ dsn: newFile(), meta_enabled: 'true', watermark_source: 'lsn' });
    await byLsn.write(log.batchOf([c!]));
    expect(await rows(byLsn, 'SELECT CAST(__ds_watermark AS VARCHAR) AS wm, __ds_op AS op FROM public.users')).toEqual([
      { wm: String(c!.commitLsn), op: 'insert' },
    ]);

    const noWatermark = await destination({ dsn: newFile(), meta_enabled: 'true', meta_watermark: '-' });
    await noWatermark.write(log.batchOf([c!]));
    const cols = await rows(noWatermark, `SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'users' ORDER BY ordinal_position`);
    expect(cols.map((r) => r.c)).toEqual(['id', 'name', 'bio', 'score', '__ds_op', '__ds_synced_at', '__ds_is_deleted']);
  });

  test('a metadata column name that collides with a source column is refused, naming the option', async () => {
    const d = await destination({ dsn: newFile(), meta_enabled: 'true', meta_op: 'name' });
    const log = new ChangeLog();
    log.tx((t) => t.insert(users, { id: 1n, name: 'a', bio: null, score: null }));
    const err = await d.write(log.batch()).catch((e: unknown) => e);
    expect((err as DuctError).field).toBe('destinations[0].options.meta_op');
  });
});

describe('staging', () => {
  test('batch_mode=staging writes staging tables; resolveStaging appends them into the targets', async () => {
    const d = await destination({ dsn: newFile(), batch_mode: 'staging', batch_resolution: 'append' });
    const log = new ChangeLog();
    log.tx((t) => t.insert(users, { id: 1n, name: 'staged', bio: null, score: null }).insert(users, { id: 2n, name: 'staged2', bio: null, score: null }));
    const b = log.batch();
    await d.write(b);
    expect(await tableText(d, 'public.users_staging')).toHaveLength(2);
    expect(await tableText(d, 'public.users')).toEqual([]);
    await d.resolveStaging([users]);
    expect(await tableText(d, 'public.users')).toEqual([
      { id: '1', name: 'staged', bio: null, score: null },
      { id: '2', name: 'staged2', bio: null, score: null },
    ]);
    expect(await rows(d, `SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'users_staging'`)).toEqual([{ n: '0' }]);
    // The staged position now guards the target: the same flow replaying these changes in target mode skips them.
    const streaming = await destination({ dsn: d.config.dsn });
    expect(await streaming.writeBatch(b)).toEqual({ tables: 0, applied: 0, skipped: 2 });
    expect(await tableText(streaming, 'public.users')).toHaveLength(2);
  });

  test('resolveStaging replace makes the target hold exactly the staged rows', async () => {
    const file = newFile();
    const direct = await destination({ dsn: file }, 'stream');
    const log = new ChangeLog('stream');
    log.tx((t) => t.insert(users, { id: 1n, name: 'old', bio: null, score: null }).insert(users, { id: 5n, name: 'stale', bio: null, score: null }));
    await direct.write(log.batch());
    const staged = await destination({ dsn: file, batch_mode: 'staging', staging_suffix: '_load' }, 'backfill');
    const bl = new ChangeLog('backfill');
    bl.tx((t) => t.insert(users, { id: 1n, name: 'fresh', bio: null, score: null }));
    await staged.write(bl.batch());
    await staged.resolveStaging([users], 'replace');
    expect(await tableText(staged, 'public.users')).toEqual([{ id: '1', name: 'fresh', bio: null, score: null }]);
  });
});

describe('errors', () => {
  test('a dsn whose directory cannot be created names the option and the fix', async () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'x');
    const err = await destination({ dsn: join(blocker, 'sub', 'db.duckdb') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DuctError);
    expect((err as DuctError).field).toBe('destinations[0].options.dsn');
    expect((err as DuctError).retry).toBe('never');
    expect((err as DuctError).describe()).toMatch(/cannot create directory .* writable directory/);
  });

  test('a file held by another process is reported as locked, naming the option, retried with backoff', async () => {
    const file = newFile();
    const { spawn } = await import('node:child_process');
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `
      const { DuckDBInstance } = require('@duckdb/node-api');
      DuckDBInstance.create(${JSON.stringify(file)}).then(() => { console.log('ready'); setInterval(() => {}, 1000); });
    `,
      ],
      { cwd: join(__dirname, '../..'), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.on('data', (b: Buffer) => (b.toString().includes('ready') ? resolve() : undefined));
        holder.on('exit', (code) => reject(new Error(`holder exited ${code}`)));
      });
      const err = await destination({ dsn: file }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DuctError);
      expect((err as DuctError).field).toBe('destinations[0].options.dsn');
      expect((err as DuctError).retry).toBe('backoff');
      expect((err as DuctError).message).toContain(`locked by another process (PID ${holder.pid})`);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  test('a test batch carries typed rows only', () => {
    const b = encodedBatch({ flowId: 'f', changes: [], schemas: new Map(), firstLsn: 0n, checkpointLsn: 0n });
    expect(() => b.messages('json')).toThrow('no json encoding');
  });
});

describe('throughput', () => {
  test('10k-row insert and update batches are applied set-based (rows/s logged; floor far below the target)', async () => {
    const d = await destination({ dsn: newFile() });
    const bench = table('public.bench', { id: 'int8', name: 'text', amount: 'numeric(12,2)', ts: 'timestamptz', flag: 'bool' }, { primaryKey: ['id'] });
    const log = new ChangeLog();
    const rates: Record<string, number> = {};
    for (const phase of ['insert', 'update'] as const) {
      log.tx((t) => {
        for (let i = 0; i < 10_000; i++) {
          const row = {
            id: BigInt(i),
            name: `${phase} ${i}`,
            amount: `${i}.${phase === 'insert' ? '25' : '75'}`,
            ts: '2024-05-06T07:08:09.123456Z',
            flag: i % 2 === 0,
          };
          if (phase === 'insert') t.insert(bench, row);
          else t.update(bench, row);
        }
      });
      const batch = log.batch();
      const t0 = performance.now();
      await d.write(batch);
      rates[phase] = Math.round(10_000 / ((performance.now() - t0) / 1000));
    }
    console.log(`duckdb destination, one 10k-row batch: insert ${rates.insert} rows/s, update ${rates.update} rows/s`);
    expect(await rows(d, `SELECT count(*) AS n, sum(amount) AS s, count(*) FILTER (WHERE name LIKE 'update %') AS u FROM public.bench`)).toEqual([
      { n: '10000', s: '50002500.00', u: '10000' },
    ]);
    // Row-by-row statements manage a few hundred rows/s here; set-based loading is two orders above.
    expect(rates.insert).toBeGreaterThan(5_000);
    expect(rates.update).toBeGreaterThan(5_000);
  });
});
