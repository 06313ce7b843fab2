import { DBOS } from '@dbos-inc/dbos-sdk';
import { DuctError } from '../core/errors';
import { DdlService } from '../services/ddl/service';
import { DDL_TOPIC, ddlWorkflowId } from '../workflows/ddlIds';
import type { ApiContext, ApiServiceRegistration } from './registration';
import { unary } from './unary';

interface IdRequest {
  id: string | number;
  actor: string;
}

/**
 * ductstream.v1.DDLService: converts messages and calls the DDL service module
 * (src/services/ddl), the same one `ductstream-admin ddl` uses; decisions wake the event's approval
 * workflow with DBOS.send when DBOS runs in this process.
 */
export const ddlServiceRegistration: ApiServiceRegistration = {
  service: 'ductstream.v1.DDLService',
  implement: (ctx: ApiContext) => {
    const log = ctx.log.child({ service: 'DDLService' });
    const service = (): DdlService => {
      if (!ctx.state.ddl) throw new DuctError('failed_precondition', 'DDL events need DUCTSTREAM_POSTGRES_DSN', { retry: 'never' });
      return new DdlService(ctx.state.ddl, async (id, action) => {
        if (ctx.env.dbosEnabled) await DBOS.send(ddlWorkflowId(id), action, DDL_TOPIC);
      });
    };
    const actorOf = (r: { actor: string }, peer: string): string => r.actor?.trim() || `grpc:${peer}`;
    return {
      ListDDL: unary(log, 'ListDDL', async (r: { status: string; flow_id: string }) => ({ events: await service().list(r) })),
      ApproveDDL: unary(log, 'ApproveDDL', async (r: IdRequest, call) => service().approve(String(r.id), actorOf(r, call.getPeer()))),
      RejectDDL: unary(log, 'RejectDDL', async (r: IdRequest & { reason: string }, call) =>
        service().reject(String(r.id), actorOf(r, call.getPeer()), r.reason ?? ''),
      ),
      ApplyDDL: unary(log, 'ApplyDDL', async (r: IdRequest, call) => service().apply(String(r.id), actorOf(r, call.getPeer()))),
    };
  },
};
