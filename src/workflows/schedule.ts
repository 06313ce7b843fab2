import { DBOS, Error as DBOSErrors } from '@dbos-inc/dbos-sdk';
import { invalidArgument } from '../core/errors';
import { pipelineContext } from './context';
import { flowRun } from './flowRun';
import { flowsWithActiveRuns, runOptionsFor } from './flowQueue';
import { newRunId } from './runIds';

/** The one schedule of the service; keep the name stable: schedules live in the system database. */
export const FLOW_RUNS_SCHEDULE = 'ductstream-flow-runs';
export const SCHEDULED_FLOW_RUNS_WORKFLOW = 'scheduledFlowRuns';

/** Persisted with the schedule and handed to every firing. */
export interface ScheduleContext {
  queueName: string;
  maxStepsPerRun: number;
}

/** Step: the running flows that have no active run anywhere (a worker's, a queued or a streaming one). */
export async function flowsToRun(): Promise<string[]> {
  // In this order: a worker creates its run before it marks the flow running (see workerRun.ts).
  const running = await pipelineContext().deps.flows.listByState('running');
  const active = await flowsWithActiveRuns();
  return running.map((f) => f.id).filter((id) => !active.has(id));
}

/**
 * One firing of DUCTSTREAM_DBOS_SCHEDULE: enqueues a run for each flow in state `running` that
 * has no active run, on the service queue, deduplicated per flow (deduplication ID = flow id), each
 * ending after one empty read or its step bound (like `ductstream-worker -max-empty-reads 1`).
 * Paused, stopped, created and failed flows are skipped. Run IDs derive from the slot time, so a
 * replay of this workflow enqueues nothing twice.
 */
async function scheduledFlowRunsBody(scheduledDate: Date, context: unknown): Promise<void> {
  const ctx = context as ScheduleContext;
  const flowIds = await DBOS.runStep(() => flowsToRun(), { name: 'flowsToRun' });
  const opts = runOptionsFor('once', ctx.maxStepsPerRun);
  for (const flowId of flowIds) {
    try {
      await DBOS.startWorkflow(flowRun, {
        workflowID: newRunId(flowId, new Date(scheduledDate).getTime()),
        queueName: ctx.queueName,
        enqueueOptions: { deduplicationID: flowId },
      })(flowId, opts);
    } catch (e) {
      if (!(e instanceof DBOSErrors.DBOSQueueDuplicatedError)) throw e;
    }
  }
}

export const scheduledFlowRuns = DBOS.registerWorkflow(scheduledFlowRunsBody, { name: SCHEDULED_FLOW_RUNS_WORKFLOW });

/**
 * Makes the application's schedules exactly the service's set (after DBOS.launch): the flow-runs
 * schedule when `cron` is set, on the service queue (which only servers dispatch); every other
 * schedule of the application is deleted, so a schedule outliving its code or its env var never
 * fires again.
 */
export async function applyServiceSchedules(cron: string | undefined, ctx: ScheduleContext): Promise<void> {
  const wanted = cron ? [{ scheduleName: FLOW_RUNS_SCHEDULE, workflowFn: scheduledFlowRuns, schedule: cron, context: ctx, queueName: ctx.queueName }] : [];
  for (const s of await DBOS.listSchedules()) {
    if (!wanted.some((w) => w.scheduleName === s.scheduleName)) await DBOS.deleteSchedule(s.scheduleName);
  }
  if (wanted.length === 0) return;
  try {
    await DBOS.applySchedules(wanted);
  } catch (e) {
    // DBOS parses the cron fully (ranges, impossible dates) before writing anything.
    const text = e instanceof Error ? e.message : String(e);
    if (/invalid expression|impossible day|illegal characters|expected 5 or 6 fields/i.test(text)) {
      throw invalidArgument(
        'DUCTSTREAM_DBOS_SCHEDULE',
        `"${cron}" is not a valid cron expression: ${text}`,
        'use 6 fields with seconds, e.g. "*/10 * * * * *" for every 10 seconds',
      );
    }
    throw e;
  }
}
