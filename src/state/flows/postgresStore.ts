import type { Pool } from 'pg';
import { DuctError } from '../../core/errors';
import type { Endpoint, Flow, FlowState } from '../../core/flow';
import type { WireFormat } from '../../wire/codec';
import type { FlowPage, FlowStore } from './store';

interface FlowRow {
  id: string;
  name: string;
  source: Endpoint;
  destinations: Endpoint[];
  wire_format: string;
  parallelism: number;
  state: FlowState;
  state_reason: string;
}

function toFlow(r: FlowRow): Flow {
  return {
    id: r.id,
    name: r.name,
    source: r.source,
    destinations: r.destinations,
    wire_format: r.wire_format as WireFormat | '',
    parallelism: r.parallelism,
    state: r.state,
    ...(r.state_reason ? { state_reason: r.state_reason } : {}),
  };
}

const COLUMNS = 'id, name, source, destinations, wire_format, parallelism, state, state_reason';

/** Flows in `ductstream.flows` (see migrations/). */
export class PostgresFlowStore implements FlowStore {
  constructor(private readonly pool: Pool) {}

  async get(id: string): Promise<Flow | null> {
    const rows = await this.query<FlowRow>(`SELECT ${COLUMNS} FROM ductstream.flows WHERE id = $1`, [id]);
    return rows[0] ? toFlow(rows[0]) : null;
  }

  async list(pageSize: number, pageToken: string): Promise<FlowPage> {
    const size = Math.min(Math.max(pageSize || 100, 1), 1000);
    const after = pageToken ? Buffer.from(pageToken, 'base64url').toString('utf8') : '';
    const rows = await this.query<FlowRow>(`SELECT ${COLUMNS} FROM ductstream.flows WHERE id > $1 ORDER BY id LIMIT $2`, [after, size + 1]);
    const more = rows.length > size;
    const page = rows.slice(0, size).map(toFlow);
    return { flows: page, nextPageToken: more ? Buffer.from(page[page.length - 1]!.id, 'utf8').toString('base64url') : '' };
  }

  async listByState(state: FlowState): Promise<Flow[]> {
    return (await this.query<FlowRow>(`SELECT ${COLUMNS} FROM ductstream.flows WHERE state = $1 ORDER BY id`, [state])).map(toFlow);
  }

  async create(flow: Flow): Promise<Flow> {
    const rows = await this.query<FlowRow>(
      `INSERT INTO ductstream.flows (id, name, source, destinations, wire_format, parallelism, state, state_reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING RETURNING ${COLUMNS}`,
      [
        flow.id,
        flow.name,
        JSON.stringify(flow.source),
        JSON.stringify(flow.destinations),
        flow.wire_format,
        flow.parallelism,
        flow.state,
        flow.state_reason ?? '',
      ],
    );
    if (!rows[0])
      throw new DuctError('already_exists', `flow "${flow.id}" already exists`, { field: 'id', hint: 'use UpdateFlow to change it, or choose another id' });
    return toFlow(rows[0]);
  }

  async update(flow: Flow): Promise<Flow> {
    const rows = await this.query<FlowRow>(
      `UPDATE ductstream.flows SET name = $2, source = $3, destinations = $4, wire_format = $5, parallelism = $6, version = version + 1, updated_at = now()
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [flow.id, flow.name, JSON.stringify(flow.source), JSON.stringify(flow.destinations), flow.wire_format, flow.parallelism],
    );
    if (!rows[0]) throw new DuctError('not_found', `flow "${flow.id}" does not exist`, { field: 'id', hint: 'create it first' });
    return toFlow(rows[0]);
  }

  async upsert(flow: Flow): Promise<{ flow: Flow; created: boolean }> {
    const rows = await this.query<FlowRow & { created: boolean }>(
      `INSERT INTO ductstream.flows (id, name, source, destinations, wire_format, parallelism, state, state_reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, '')
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, source = EXCLUDED.source, destinations = EXCLUDED.destinations,
         wire_format = EXCLUDED.wire_format, parallelism = EXCLUDED.parallelism, version = ductstream.flows.version + 1, updated_at = now()
       RETURNING ${COLUMNS}, (xmax = 0) AS created`,
      [flow.id, flow.name, JSON.stringify(flow.source), JSON.stringify(flow.destinations), flow.wire_format, flow.parallelism, flow.state],
    );
    return { flow: toFlow(rows[0]!), created: rows[0]!.created };
  }

  async setState(id: string, state: FlowState, reason = ''): Promise<Flow> {
    const rows = await this.query<FlowRow>(`UPDATE ductstream.flows SET state = $2, state_reason = $3, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`, [
      id,
      state,
      reason,
    ]);
    if (!rows[0]) throw new DuctError('not_found', `flow "${id}" does not exist`, { field: 'flow_id' });
    return toFlow(rows[0]);
  }

  async noteRunning(id: string, reason: string): Promise<void> {
    await this.query(`UPDATE ductstream.flows SET state_reason = $2 WHERE id = $1 AND state = 'running' AND state_reason <> $2`, [id, reason]);
  }

  async delete(id: string): Promise<boolean> {
    const rows = await this.query<{ id: string }>('DELETE FROM ductstream.flows WHERE id = $1 RETURNING id', [id]);
    return rows.length > 0;
  }

  private async query<T>(sql: string, params: unknown[]): Promise<T[]> {
    try {
      return (await this.pool.query(sql, params)).rows as T[];
    } catch (e) {
      throw new DuctError('unavailable', `flow store (DUCTSTREAM_POSTGRES_DSN): ${(e as Error).message}`, { retry: 'transient', cause: e });
    }
  }
}
