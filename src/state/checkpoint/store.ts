import type { Lsn } from '../../core/lsn';

export interface Checkpoint {
  flowId: string;
  slot: string;
  lsn: Lsn;
  updatedAt: Date;
}

/**
 * Durable record of how far a flow has delivered: every transaction whose commit end LSN is at or
 * below `lsn` is durable in every destination of the flow.
 *
 * Contract:
 * - `commit` is durable when it resolves and monotone: the stored LSN becomes
 *   max(stored, lsn) and is returned, so a late or replayed commit never moves it back.
 * - `get` returns null when the flow has no checkpoint for the slot yet.
 * - Implementations are safe to share between concurrent callers of one process.
 */
export interface CheckpointStore {
  get(flowId: string, slot: string): Promise<Lsn | null>;
  commit(flowId: string, slot: string, lsn: Lsn): Promise<Lsn>;
  list(flowId?: string): Promise<Checkpoint[]>;
  /** Removes a flow's checkpoints (flow deletion). */
  delete(flowId: string): Promise<void>;
  close(): Promise<void>;
}
