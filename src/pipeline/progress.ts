import type { Lsn } from '../core/lsn';

/** Live counters of one flow in this process, read by the worker's progress line and the API. */
export interface FlowProgress {
  flowId: string;
  rows: number;
  batches: number;
  /** Checkpointed position. */
  checkpointLsn: Lsn;
  /** Last position received from the server. */
  receivedLsn: Lsn;
  /** The server's WAL end as of its last keepalive (for lag). */
  serverWalEnd: Lsn;
  /** Set while a step of the flow's run is retrying a transient failure: `retrying: <reason>`. */
  retrying?: string;
}

/** The {@link FlowProgress} of every flow a process runs; one per {@link PipelineContext}. No I/O. */
export class ProgressBoard {
  private readonly byFlow = new Map<string, FlowProgress>();

  /** The flow's counters, created at zero on first use. */
  of(flowId: string): FlowProgress {
    let p = this.byFlow.get(flowId);
    if (!p) {
      p = { flowId, rows: 0, batches: 0, checkpointLsn: 0n, receivedLsn: 0n, serverWalEnd: 0n };
      this.byFlow.set(flowId, p);
    }
    return p;
  }
}
