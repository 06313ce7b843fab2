import { randomUUID } from 'node:crypto';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { DuctError, invalidArgument } from '../core/errors';
import { describePublication, diffPublication } from '../services/publications/publication';
import { snapshotAddedTables } from '../services/publications/snapshot';
import { parsePublicationSync, type PublicationSyncRequest } from '../services/publications/spec';
import { publicationSync, setPublicationSyncStore } from '../workflows/publicationSync';
import type { ApiContext, ApiServiceRegistration } from './registration';
import { unary } from './unary';

/**
 * ductstream.v1.PublicationService: validates, then lists the publication or runs the
 * publicationSync workflow in this process (DBOS must be enabled) and returns its result.
 */
export const publicationServiceRegistration: ApiServiceRegistration = {
  service: 'ductstream.v1.PublicationService',
  implement: (ctx: ApiContext) => {
    const log = ctx.log.child({ service: 'PublicationService' });
    setPublicationSyncStore(ctx.state.flows);
    const flowOf = async (id: string | undefined) => {
      if (!id?.trim()) throw invalidArgument('flow_id', 'is required', 'pass the flow whose publication to use');
      return ctx.flows.get(id.trim());
    };
    return {
      ListPublication: unary(log, 'ListPublication', async (r: { flow_id: string }) => describePublication(await flowOf(r.flow_id))),
      SyncPublication: unary(log, 'SyncPublication', async (r: PublicationSyncRequest) => {
        const spec = parsePublicationSync(r, true);
        const flow = await flowOf(spec.flowId);
        if (!ctx.env.dbosEnabled)
          throw new DuctError('failed_precondition', 'publication sync runs as a DBOS workflow: DUCTSTREAM_DBOS_ENABLED is false', { retry: 'never' });
        await diffPublication(flow, spec);
        const handle = await DBOS.startWorkflow(publicationSync, { workflowID: `pubsync-${spec.flowId}-${randomUUID()}` })(spec);
        const result = await handle.getResult();
        // snapshot: the added tables' existing rows, as a backfill this server runs (follow it with GetBackfill).
        const backfill = spec.snapshot ? await snapshotAddedTables(spec.flowId, result.added, 'tables') : undefined;
        return { ...result, backfill_id: backfill?.backfillId ?? '' };
      }),
    };
  },
};
