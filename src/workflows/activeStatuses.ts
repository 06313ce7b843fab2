/**
 * DBOS statuses of a workflow that has not ended (queued, delayed or running): what "active" means
 * for flow runs and backfills alike.
 */
export const ACTIVE_STATUSES = ['PENDING', 'ENQUEUED', 'DELAYED'] as const;
