/**
 * Scenarios of table destinations only (subjects with `applies`): what each apply capability
 * promises, and the options every table destination shares (metadata columns, soft delete, append
 * mode, type mappings), with the rows every table destination must give for them.
 */
import { tableKey, type TableSchema } from '../../src/core/change';
import { isDuctError } from '../../src/core/errors';
import { isTableDestination, type Destination } from '../../src/destinations/destination';
import { ChangeLog, column, table } from '../support/changes';
import { canonicalRow, sortedRows, type CanonicalRow } from './canonical';
import { stateOf } from './checks';
import { materialize } from './materialize';
import { envelopeOf } from '../../src/wire/envelope';
import type { ConformanceSubject, TableScenarioSlug } from './subject';

const users = (suffix: string): TableSchema => table(`public.tu_${suffix}`, { id: 'int8', name: 'text', score: 'numeric(10,2)' }, { primaryKey: ['id'] });

/** `schema` with metadata columns appended, for reading them back. */
function withColumns(schema: TableSchema, extra: Record<string, string>): TableSchema {
  return { ...schema, columns: [...schema.columns, ...Object.entries(extra).map(([n, spec]) => column(n, spec))] };
}

export interface TableScenarioContext {
  subject: ConformanceSubject;
  open(options: Record<string, string>, log: ChangeLog): Promise<Destination>;
}

async function withTarget(
  ctx: TableScenarioContext,
  slug: string,
  extra: Record<string, string>,
  run: (dest: Destination, read: (s: TableSchema[]) => Promise<Map<string, CanonicalRow[]>>, log: ChangeLog) => Promise<void>,
): Promise<void> {
  const target = await ctx.subject.target(slug, undefined);
  const log = new ChangeLog(`conf-${slug}`);
  try {
    const dest = await ctx.open({ ...target.options, ...extra }, log);
    const read = async (schemas: TableSchema[]): Promise<Map<string, CanonicalRow[]>> => {
      const back = await target.read(schemas);
      if (back.shape !== 'rows') throw new Error('a table destination reads back rows');
      return stateOf(back, schemas);
    };
    try {
      await run(dest, read, log);
    } finally {
      await dest.close();
    }
  } finally {
    await target.dispose?.();
  }
}

/** A table scenario, or its skip with the subject's reason (`skipTable`). */
function tableTest(ctx: TableScenarioContext, slug: TableScenarioSlug, title: string, fn: () => Promise<void>): void {
  const reason = ctx.subject.skipTable?.[slug];
  if (reason) test.skip(`${title} (skipped: ${reason})`, () => undefined);
  else test(title, fn);
}

/** Registers the table-destination scenarios in the calling describe block. */
export function tableScenarios(ctx: TableScenarioContext): void {
  const applies = ctx.subject.applies!;

  test(`declares how it applies (${applies})`, () =>
    withTarget(ctx, 'declares', {}, async (dest) => {
      expect(isTableDestination(dest) ? dest.applies : 'not a table destination').toBe(applies);
    }));

  test('an older batch written after a newer one has no effect', () =>
    withTarget(ctx, 'older', {}, async (dest, read, log) => {
      const t = users('older');
      log.tx((x) => x.insert(t, { id: 1n, name: 'v1', score: '1.00' }).insert(t, { id: 2n, name: 'v1', score: null }));
      const b1 = log.batch();
      log.tx((x) => x.update(t, { id: 1n, name: 'v2', score: '2.00' }).delete(t, { id: 2n }));
      const b2 = log.batch();
      await dest.write(b1);
      await dest.write(b2);
      await dest.write(b1);
      await dest.write(b2);
      expect((await read([t])).get(tableKey(t))).toEqual([canonicalRow({ id: 1n, name: 'v2', score: '2.00' }, t)]);
    }));

  if (applies === 'transactional') {
    test('transactional: a batch that fails leaves nothing of itself', () =>
      withTarget(ctx, 'atomic', {}, async (dest, read, log) => {
        const [a, b] = [users('atomic_a'), table('public.tu_atomic_b', { id: 'int8', d: 'date' }, { primaryKey: ['id'] })];
        log.tx((x) => x.insert(a, { id: 1n, name: 'kept', score: null }));
        await dest.write(log.batch());
        log.tx((x) => x.update(a, { id: 1n, name: 'lost', score: null }).insert(b, { id: 1n, d: 'not a date' }));
        const err = await dest.write(log.batch()).catch((e: unknown) => e);
        expect(isDuctError(err) && err.retry).toBe('never');
        const back = await read([a, b]);
        expect(back.get(tableKey(a))).toEqual([canonicalRow({ id: 1n, name: 'kept', score: null }, a)]);
        expect(back.get(tableKey(b))).toEqual([]);
      }));
  } else {
    tableTest(ctx, 'partial', `${applies}: a batch that failed part way, then written again, counts once`, () =>
      withTarget(ctx, 'partial', {}, async (dest, read, log) => {
        const [a, b] = [users('partial_a'), table('public.tu_partial_b', { id: 'int8', d: 'date' }, { primaryKey: ['id'] })];
        log.tx((x) => x.insert(a, { id: 1n, name: 'one', score: null }).insert(a, { id: 2n, name: 'two', score: null }));
        const good = log.all.slice();
        log.tx((x) => x.insert(b, { id: 1n, d: 'not a date' }));
        const err = await dest.write(log.batch()).catch((e: unknown) => e);
        expect(isDuctError(err) && err.retry).toBe('never');
        await dest.write(log.batchOf(good));
        await dest.write(log.batchOf(good));
        expect((await read([a])).get(tableKey(a))).toEqual(
          sortedRows(
            good.map((c) => canonicalRow(c.after!, a)),
            a,
          ),
        );
      }),
    );
  }

  test('metadata columns and soft delete keep deleted rows, flagged', () =>
    withTarget(ctx, 'soft', { meta_enabled: 'true', soft_delete: 'true' }, async (dest, read, log) => {
      const t = users('soft');
      log.tx((x) =>
        x.insert(t, { id: 1n, name: 'a', score: '1.00' }).insert(t, { id: 2n, name: 'b', score: null }).insert(t, { id: 3n, name: 'c', score: null }),
      );
      await dest.write(log.batch());
      log.tx((x) =>
        x
          .update(t, { id: 2n, name: 'b2', score: '2.00' })
          .delete(t, { id: 3n })
          .update(t, { id: 10n, name: 'a', score: '1.00' }, { before: { id: 1n } }),
      );
      await dest.write(log.batch());
      log.tx((x) => x.truncate(t).insert(t, { id: 4n, name: 'd', score: null }));
      const last = log.batch();
      await dest.write(last);
      await dest.write(last);
      const view = withColumns(t, { __ds_is_deleted: 'bool', __ds_op: 'text' });
      const row = (id: bigint, name: string, score: string | null, deleted: boolean, op: string): CanonicalRow =>
        canonicalRow({ id, name, score, __ds_is_deleted: deleted, __ds_op: op }, view);
      expect((await read([view])).get(tableKey(view))).toEqual(
        sortedRows(
          [
            row(1n, 'a', '1.00', true, 'truncate'),
            row(2n, 'b2', '2.00', true, 'truncate'),
            row(3n, 'c', null, true, 'truncate'),
            row(10n, 'a', '1.00', true, 'truncate'),
            row(4n, 'd', null, false, 'insert'),
          ],
          view,
        ),
      );
    }));

  test('append mode keeps one row per change with its operation', () =>
    withTarget(ctx, 'append', { append_mode: 'true' }, async (dest, read, log) => {
      const t = users('append');
      log.tx((x) => x.insert(t, { id: 1n, name: 'a', score: null }).insert(t, { id: 2n, name: 'b', score: null }));
      log.tx((x) => x.update(t, { id: 1n, name: 'a2', score: '1.50' }).delete(t, { id: 2n }));
      const b = log.batch();
      await dest.write(b);
      await dest.write(b);
      const view = withColumns({ ...t, primaryKey: ['__ds_lsn', '__ds_seq'] }, { __ds_op: 'text', __ds_lsn: 'int8', __ds_seq: 'int8' });
      const back = ((await read([view])).get(tableKey(view)) ?? []).map(({ id, name, score, __ds_op }) => ({ id, name, score, __ds_op }));
      const want = [
        { id: '1', name: 'a', score: null, __ds_op: 'insert' },
        { id: '2', name: 'b', score: null, __ds_op: 'insert' },
        { id: '1', name: 'a2', score: '1.50', __ds_op: 'update' },
        { id: '2', name: 'b', score: null, __ds_op: 'delete' },
      ];
      expect(back).toEqual(want);
    }));

  test('type_mappings override a column type, values kept exactly', () =>
    withTarget(ctx, 'mapped', { type_mappings: '{"numeric(10,2)": "String"}' }, async (dest, read, log) => {
      const t = users('mapped');
      log.tx((x) => x.insert(t, { id: 1n, name: 'a', score: '1.50' }).insert(t, { id: 2n, name: 'b', score: '-0.01' }));
      await dest.write(log.batch());
      const sent = log.all.map(envelopeOf);
      expect((await read([t])).get(tableKey(t))).toEqual(materialize(sent, [t]).get(tableKey(t)));
    }));

  test('a metadata column named like a source column is refused, naming both', () =>
    withTarget(ctx, 'collide', { meta_enabled: 'true' }, async (dest, _read, log) => {
      const t = table('public.tu_collide', { id: 'int8', __ds_op: 'text' }, { primaryKey: ['id'] });
      log.tx((x) => x.insert(t, { id: 1n, __ds_op: 'mine' }));
      const err = await dest.write(log.batch()).catch((e: unknown) => e);
      expect(isDuctError(err) ? [err.field, err.retry] : err).toEqual(['destinations[0].options.meta_op', 'never']);
      expect((err as Error).message).toMatch(/metadata column "__ds_op" collides with source column "__ds_op" of public\.tu_collide/);
    }));
}
