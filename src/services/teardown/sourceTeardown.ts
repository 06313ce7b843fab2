import type { Flow } from '../../core/flow';
import { DuctError } from '../../core/errors';
import { parsePostgresSourceConfig } from '../../source/postgres/config';
import { connectClient, endQuietly } from '../../source/postgres/connect';
import { quoteIdent } from '../../source/postgres/identifiers';

export interface TeardownOptions {
  /** Drop the flow's replication slot (it otherwise holds WAL forever). */
  dropSlot: boolean;
  /** Drop the flow's publication (only when no other flow uses it: the caller checks). */
  dropPublication: boolean;
  /** How long to wait for the slot to become inactive (the flow's run ends after its current batch). */
  slotWaitMs?: number;
}

export interface TeardownResult {
  slot: string;
  publication: string;
  slotDropped: boolean;
  publicationDropped: boolean;
  stateRecordRemoved: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Removes what a flow left in its source database: the source-state record always, the slot and
 * the publication when asked. Idempotent (a missing slot or publication is not an error). A slot
 * still streamed by a process after `slotWaitMs` is `failed_precondition` and nothing is dropped.
 */
export async function teardownSource(flow: Flow, o: TeardownOptions): Promise<TeardownResult> {
  const config = parsePostgresSourceConfig(flow.source.options, 'source.options');
  const client = await connectClient(config.dsn, 'source.options.dsn', { applicationName: 'ductstream-teardown' });
  const result: TeardownResult = {
    slot: config.slot,
    publication: config.publication,
    slotDropped: false,
    publicationDropped: false,
    stateRecordRemoved: false,
  };
  try {
    if (o.dropSlot) {
      const deadline = Date.now() + (o.slotWaitMs ?? 15_000);
      for (;;) {
        const r = await client.query<{ active: boolean; pid: number | null }>(
          'SELECT active, active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
          [config.slot],
        );
        const slot = r.rows[0];
        if (!slot) break;
        if (!slot.active) {
          await client.query('SELECT pg_drop_replication_slot($1)', [config.slot]);
          result.slotDropped = true;
          break;
        }
        if (Date.now() > deadline) {
          throw new DuctError('failed_precondition', `slot ${config.slot} is still streamed by process ${slot.pid ?? '?'}`, {
            retry: 'never',
            hint: 'stop the worker running the flow, then delete again',
          });
        }
        await sleep(250);
      }
    }
    if (o.dropPublication) {
      const r = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [config.publication]);
      if (r.rowCount) {
        await client.query(`DROP PUBLICATION ${quoteIdent(config.publication)}`);
        result.publicationDropped = true;
      }
    }
    const table = `${quoteIdent(config.stateSchema)}.${quoteIdent(config.stateTable)}`;
    const exists = await client.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table]);
    if (exists.rows[0]?.t) {
      const d = await client.query(`DELETE FROM ${table} WHERE flow_id = $1`, [config.flowId ?? flow.id]);
      result.stateRecordRemoved = (d.rowCount ?? 0) > 0;
    }
    return result;
  } finally {
    await endQuietly(client);
  }
}
