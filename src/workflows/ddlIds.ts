/** Names shared by the DDL approval workflow and the processes that wake it (no DBOS registration here). */
export const DDL_APPROVAL_WORKFLOW = 'ddlApproval';

/** The DBOS topic of approve/reject/apply wake-ups (the event's row in ddl_events holds the decision). */
export const DDL_TOPIC = 'ddl';

/** The approval workflow of event `id`: one per event, so starting it twice is harmless. */
export function ddlWorkflowId(id: number): string {
  return `ddl-${id}`;
}
