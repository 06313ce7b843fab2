import { DuctError, invalidArgument } from '../../core/errors';
import { formatLsn } from '../../core/lsn';
import { DDL_STATUSES, type DdlEvent, type DdlStatus, type DdlStore } from '../../ddl/store';

/** A DDL event as the API and CLI show it (LSN as X/Y, times as ISO text). */
export interface DdlEventView {
  id: number;
  flow_id: string;
  lsn: string;
  table: string;
  kind: string;
  ddl: string;
  status: DdlStatus;
  reason: string;
  actor: string;
  apply_requested: boolean;
  old_columns: Array<{ name: string; type: string }>;
  new_columns: Array<{ name: string; type: string }>;
  created_at: string;
  updated_at: string;
}

export function viewOf(e: DdlEvent): DdlEventView {
  const cols = (c: DdlEvent['oldColumns']) => (c ?? []).map((x) => ({ name: x.name, type: x.formattedType }));
  return {
    id: e.id,
    flow_id: e.flowId,
    lsn: formatLsn(e.lsn),
    table: `${e.table.schema}.${e.table.name}`,
    kind: e.kind,
    ddl: e.ddl ?? '',
    status: e.status,
    reason: e.reason,
    actor: e.actor,
    apply_requested: e.applyRequested,
    old_columns: cols(e.oldColumns),
    new_columns: cols(e.newColumns),
    created_at: e.createdAt.toISOString(),
    updated_at: e.updatedAt.toISOString(),
  };
}

/** Wakes the event's approval workflow (DBOS.send); best effort: the workflow also rereads the event periodically. */
export type DdlNotifier = (eventId: number, action: 'approve' | 'reject' | 'apply') => Promise<void>;

/**
 * DDL governance operations for the API (DDLService) and `ductstream-admin ddl`. Validates input
 * (errors name the field: `id`, `status`), then moves the event's status in ddl_events with a
 * conditional update (so two approvers cannot both win) and wakes its approval workflow. Nothing
 * changes on bad input or a wrong state.
 */
export class DdlService {
  constructor(
    private readonly store: DdlStore,
    private readonly notify: DdlNotifier = async () => undefined,
  ) {}

  async list(req: { status?: string; flow_id?: string }): Promise<DdlEventView[]> {
    const status = req.status?.trim() || undefined;
    if (status !== undefined && !DDL_STATUSES.includes(status as DdlStatus)) {
      throw invalidArgument('status', `"${status}" is not a DDL status`, `use one of: ${DDL_STATUSES.join(', ')}`);
    }
    const events = await this.store.list({ status: status as DdlStatus | undefined, flowId: req.flow_id?.trim() || undefined });
    return events.map(viewOf);
  }

  async get(id: string | number | undefined): Promise<DdlEventView> {
    return viewOf(await this.require(id));
  }

  async approve(id: string | number | undefined, actor: string): Promise<DdlEventView> {
    const e = await this.require(id);
    const moved = await this.store.transition(e.id, ['pending'], 'approved', actor);
    if (!moved) throw wrongState(e, 'approved', 'only a pending event can be approved');
    await this.notify(e.id, 'approve').catch(() => undefined);
    return viewOf(moved);
  }

  async reject(id: string | number | undefined, actor: string, reason: string): Promise<DdlEventView> {
    const e = await this.require(id);
    const moved = await this.store.transition(e.id, ['pending', 'approved', 'failed'], 'rejected', actor, reason.trim() || `rejected by ${actor}`);
    if (!moved) throw wrongState(e, 'rejected', 'only a pending, approved or failed event can be rejected');
    await this.notify(e.id, 'reject').catch(() => undefined);
    return viewOf(moved);
  }

  /** Asks the approval workflow to apply the change to the flow's destinations (the event must be approved, or failed to retry). */
  async apply(id: string | number | undefined, actor: string): Promise<DdlEventView> {
    const e = await this.require(id);
    const moved = await this.store.requestApply(e.id, actor);
    if (!moved)
      throw wrongState(
        e,
        'applied',
        e.status === 'pending' ? 'approve it first (ddl approve -id ' + e.id + ')' : 'only an approved or failed event can be applied',
      );
    await this.notify(e.id, 'apply').catch(() => undefined);
    return viewOf(moved);
  }

  private async require(raw: string | number | undefined): Promise<DdlEvent> {
    const text = String(raw ?? '').trim();
    if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
      throw invalidArgument('id', `"${text}" is not a DDL event id`, 'use the id shown by ddl list');
    }
    const e = await this.store.get(Number(text));
    if (!e) throw new DuctError('not_found', `id: DDL event ${text} does not exist`, { field: 'id', hint: 'list events with ddl list', retry: 'never' });
    return e;
  }
}

function wrongState(e: DdlEvent, wanted: string, fix: string): DuctError {
  return new DuctError('failed_precondition', `id: DDL event ${e.id} is ${e.status}, so it cannot be ${wanted}`, { field: 'id', hint: fix, retry: 'never' });
}
