import { DBOS, type WorkflowHandle } from '@dbos-inc/dbos-sdk';
import { openAppState, type AppState } from '../state/open';
import type { Flow } from '../core/flow';
import { parseFlow, type FlowValidationContext } from '../config/flow';
import { executorIdFor, readApiSecurity, systemDatabaseUrlFor, type ServiceEnv } from '../config/env';
import { DuctError } from '../core/errors';
import type { Logger } from '../core/log';
import { parseLsn } from '../core/lsn';
import { createPipelineContext, type PipelineContext } from '../pipeline/context';
import { checkFlowDestinations } from '../pipeline/destinations';
import { parsePostgresSourceConfig } from '../source/postgres/config';
import { connectClient, endQuietly } from '../source/postgres/connect';
import { checkReplayStart } from '../source/postgres/replayStart';
import type { WireFormat } from '../wire/codec';
import { launchDbos, shutdownDbos } from '../workflows/dbos';
import { activeRunOf } from '../workflows/flowQueue';
import { flowRun, type FlowRunOptions, type FlowRunResult } from '../workflows/flowRun';
import { newRunId } from '../workflows/runIds';
import { ExecutorPresence } from '../workflows/executorPresence';
import { RunTakeover } from '../workflows/takeover';
import { bindPipelineContext } from '../workflows/context';
import { startProgressReporter } from './progressReporter';
import { startStatusHttp, type StatusHttpServer } from '../http/server';
import { startStatusRuntime, statusExtensionsFor, type StatusRuntime } from '../status';
import { dbosReader } from '../services/backfill/status';
import { dbosWorkflowReader, runHistoryOn } from '../status/runHistory';
import { backfillHoldOf } from '../services/backfill/hold';
import type { BackfillModeArgs } from './backfillFlags';
import { EXIT_OK } from './exit';

/** What `ductstream-worker` decided from its flags, environment and flow file (all validated). */
export interface WorkerRunInput {
  prog: string;
  env: ServiceEnv;
  log: Logger;
  ctx: FlowValidationContext;
  /** The parsed `-flow-file`, if given. */
  fromFile: Flow | undefined;
  flowFile: string | undefined;
  flowId: string | undefined;
  maxEmptyReads: number;
  startLsn: string | undefined;
  /** `-metrics-listen`: serve this flow's Prometheus /metrics there. */
  metricsListen: string | undefined;
  /** `-mode backfill`: load the tables' existing rows instead of streaming. */
  backfill?: BackfillModeArgs;
}

/**
 * Fails fast when the source or a destination does not answer: inside a run, such errors are
 * retried with backoff for minutes, which is right for a running flow but not for a start.
 */
async function checkPeersReachable(flow: Flow, serviceWireFormat: WireFormat, log: Logger): Promise<void> {
  await endQuietly(await connectClient(flow.source.options.dsn!, 'source.options.dsn', { connectTimeoutMs: 5000 }));
  await checkFlowDestinations(flow, serviceWireFormat, log);
}

/** Waits for a run and every successor it hands over to; returns the last run's result. */
async function followChain(first: WorkflowHandle<FlowRunResult>): Promise<FlowRunResult> {
  let handle = first;
  for (;;) {
    const result = await handle.getResult();
    if (!result.successorId) return result;
    handle = DBOS.retrieveWorkflow<FlowRunResult>(result.successorId);
  }
}

/**
 * The flow the worker runs: the `-flow-file` flow stored (created or updated) once the peers answer
 * and `-start-lsn` is replayable, or the stored `-flow-id` flow, validated and checked the same way.
 * Nothing is stored when a check fails.
 */
async function resolveWorkerFlow(input: WorkerRunInput, state: AppState): Promise<Flow> {
  const { env, log } = input;
  const checkStart = async (flow: Flow): Promise<void> => {
    if (input.startLsn) await checkReplayStart(parsePostgresSourceConfig(flow.source.options, 'source.options'), parseLsn(input.startLsn), 'flag -start-lsn');
  };
  if (input.flowFile && input.fromFile) {
    // Validate everything and reach the source before storing anything.
    await checkPeersReachable(input.fromFile, env.wireFormat, log);
    await checkStart(input.fromFile);
    const { flow, created } = await state.flows.upsert(input.fromFile);
    process.stderr.write(`${input.prog}: flow "${flow.id}" ${created ? 'created' : 'updated'} from ${input.flowFile}\n`);
    return flow;
  }
  const flow = await state.flows.get(input.flowId!);
  if (!flow) throw new DuctError('not_found', `flow "${input.flowId}" does not exist`, { hint: 'create it with the API (CreateFlow) or pass -flow-file' });
  parseFlow(flow, input.ctx);
  await checkPeersReachable(flow, env.wireFormat, log);
  await checkStart(flow);
  return flow;
}

/** What a streaming worker runs beside its flow, stopped by {@link stopWorkerServices}. */
interface WorkerServices {
  status: StatusRuntime;
  presence: ExecutorPresence;
  metricsHttp?: StatusHttpServer;
}

/** Flow status sampling (and `-metrics-listen`'s /metrics) and the executor's presence lock, once DBOS is up. */
async function startWorkerServices(
  input: WorkerRunInput,
  state: AppState,
  flowId: string,
  executorId: string,
  systemDatabaseUrl: string,
): Promise<WorkerServices> {
  const { env, log } = input;
  const services: Partial<WorkerServices> = {};
  try {
    services.status = startStatusRuntime({
      state,
      runs: runHistoryOn(dbosWorkflowReader(DBOS), systemDatabaseUrl),
      executor: executorId,
      log: log.child({ component: 'status' }),
      intervalMs: env.ops.statusIntervalMs,
      extensions: statusExtensionsFor(state, dbosReader),
      only: new Set([flowId]),
      sample: input.metricsListen !== undefined,
    });
    if (input.metricsListen !== undefined) {
      services.metricsHttp = await startStatusHttp({ listen: input.metricsListen, tokens: readApiSecurity().tokens, log });
      process.stderr.write(`${input.prog}: serving /metrics on http://${services.metricsHttp.address}\n`);
    }
    services.presence = new ExecutorPresence({ systemDatabaseUrl, app: env.dbosApp, executorId, log });
    await services.presence.start();
    return services as WorkerServices;
  } catch (e) {
    await stopWorkerServices(services);
    throw e;
  }
}

async function stopWorkerServices(s: Partial<WorkerServices>): Promise<void> {
  await s.metricsHttp?.close();
  await s.status?.stop();
  await s.presence?.stop();
}

/** First SIGINT/SIGTERM: stop after the current batch; second: exit at once. */
function stopOnSignals(prog: string, pipeline: PipelineContext): void {
  let signals = 0;
  const onSignal = (sig: string): void => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`${prog}: second ${sig}, exiting now\n`);
      process.exit(130);
    }
    process.stderr.write(`${prog}: ${sig} received, stopping after the current batch (again to exit now)\n`);
    pipeline.runtimes.requestStop();
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
}

/**
 * Runs the flow as a chain of DBOS workflows until it ends: first a run a crash interrupted (DBOS
 * recovers it at launch under the same executor ID; under another one it is taken over once that
 * executor is gone), then, unless that run ended for good, a new chain. Returns the last run's result.
 */
async function runFlowChain(input: WorkerRunInput, state: AppState, flow: Flow, executorId: string, presence: ExecutorPresence): Promise<FlowRunResult> {
  const { env, log } = input;
  const flowId = flow.id;
  let last: FlowRunResult | undefined;
  const interrupted = await activeRunOf(flowId);
  if (interrupted) {
    const owner = (await DBOS.getWorkflowStatus(interrupted))?.executorId;
    if (owner && owner !== executorId) {
      const takeover = new RunTakeover({ presence, executorId, appVersion: env.appVersion, afterMs: env.runner.takeoverAfterMs, log });
      if (!(await takeover.takeOverWhenGone(owner))) log.info('the flow is being run by another live process; following its run', { executor: owner });
    }
    log.info('resuming an interrupted run', { run: interrupted });
    last = await followChain(DBOS.retrieveWorkflow<FlowRunResult>(interrupted));
  }
  if (last && last.end !== 'empty' && last.end !== 'bounded') return last;
  // A server's schedule or supervisor runs every `running` flow that has no active run. Mark the
  // flow running only once this worker's run exists, so no server can start a second one in between;
  // a stopped flow is the exception (a run would end at once on seeing `stopped`).
  const markRunning = async (): Promise<void> => {
    if (flow.state !== 'running') await state.flows.setState(flowId, 'running');
  };
  if (flow.state === 'stopped') await markRunning();
  const opts: FlowRunOptions = {
    maxEmptyReads: input.maxEmptyReads,
    startLsn: input.startLsn,
    maxStepsPerRun: env.runner.stepsPerRun,
    onBound: 'successor',
    chainIndex: 0,
  };
  const handle = await DBOS.startWorkflow(flowRun, { workflowID: newRunId(flowId) })(flowId, opts);
  if (flow.state !== 'stopped') await markRunning();
  return followChain(handle);
}

/**
 * The worker's run, once its input is valid (src/cli/worker.ts): store the flow file's flow, check
 * the peers answer, then run the flow as a chain of DBOS workflows until it ends or is stopped.
 * Loaded lazily, so bad input never loads DBOS, knex or a driver. Returns the exit code.
 */
export async function runWorkerFlow(input: WorkerRunInput): Promise<number> {
  const { prog, env, log } = input;
  const state = await openAppState(env);
  let stopProgress = (): void => undefined;
  let services: WorkerServices | undefined;
  let pipeline: PipelineContext | undefined;
  try {
    const flow = await resolveWorkerFlow(input, state);
    if (flow.state === 'paused') {
      process.stderr.write(`${prog}: flow "${flow.id}" is paused; resume it (ResumeFlow) to run it\n`);
      return EXIT_OK;
    }
    pipeline = createPipelineContext(env, state, log, backfillHoldOf);
    bindPipelineContext(pipeline);
    const systemDatabaseUrl = systemDatabaseUrlFor(env, flow.source.options.dsn!);
    if (input.backfill) {
      const { runBackfillMode } = await import('./backfillMode');
      return await runBackfillMode({ prog, flow, env, args: input.backfill, executorId: executorIdFor(`backfill-${flow.id}`), systemDatabaseUrl, log });
    }
    pipeline.runtimes.setRunPolicy(flow.id, { maxEmptyReads: input.maxEmptyReads });
    const executorId = executorIdFor(`worker-${flow.id}`);
    await launchDbos({ env, executorId, systemDatabaseUrl, log });
    services = await startWorkerServices(input, state, flow.id, executorId, systemDatabaseUrl);
    stopOnSignals(prog, pipeline);
    stopProgress = startProgressReporter(pipeline.progress.of(flow.id), log);
    const last = await runFlowChain(input, state, flow, executorId, services.presence);
    stopProgress();
    process.stderr.write(
      `${prog}: flow "${flow.id}" run ended (${last.end}): ${last.rows} rows in ${last.batches} batches, checkpoint ${last.checkpointLsn}\n`,
    );
    return EXIT_OK;
  } finally {
    stopProgress();
    // The presence lock is released last, once DBOS is down: no other process takes over a run still here.
    await services?.metricsHttp?.close();
    await pipeline?.runtimes.releaseAll();
    await services?.status.stop();
    await shutdownDbos();
    await services?.presence.stop();
    await state.close();
  }
}
