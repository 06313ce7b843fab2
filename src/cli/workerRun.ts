import { DBOS, type WorkflowHandle } from '@dbos-inc/dbos-sdk';
import { openAppState } from '../state/open';
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
import { startStatusRuntime, type StatusRuntime } from '../status';
import { DdlStatusExtension } from '../status/ddl';
import { dbosWorkflowReader, RunHistory } from '../status/runHistory';
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
 * The worker's run, once its input is valid (src/cli/worker.ts): store the flow file's flow, check
 * the peers answer, then run the flow as a chain of DBOS workflows until it ends or is stopped.
 * Loaded lazily, so bad input never loads DBOS, knex or a driver. Returns the exit code.
 */
export async function runWorkerFlow(input: WorkerRunInput): Promise<number> {
  const { prog: PROG, env, log, ctx, fromFile } = input;
  const args = { flowFile: input.flowFile, flowId: input.flowId, maxEmptyReads: input.maxEmptyReads, startLsn: input.startLsn };
  const state = await openAppState(env);
  let stopProgress = (): void => undefined;
  let presence: ExecutorPresence | undefined;
  let status: StatusRuntime | undefined;
  let pipeline: PipelineContext | undefined;
  let metricsHttp: StatusHttpServer | undefined;
  try {
    let flow: Flow | null;
    if (args.flowFile && fromFile) {
      // Validate everything and reach the source before storing anything.
      await checkPeersReachable(fromFile, env.wireFormat, log);
      if (args.startLsn)
        await checkReplayStart(parsePostgresSourceConfig(fromFile.source.options, 'source.options'), parseLsn(args.startLsn), 'flag -start-lsn');
      const { flow: stored, created } = await state.flows.upsert(fromFile);
      process.stderr.write(`${PROG}: flow "${stored.id}" ${created ? 'created' : 'updated'} from ${args.flowFile}\n`);
      flow = stored;
    } else {
      flow = await state.flows.get(args.flowId!);
      if (!flow) throw new DuctError('not_found', `flow "${args.flowId}" does not exist`, { hint: 'create it with the API (CreateFlow) or pass -flow-file' });
      parseFlow(flow, ctx);
      await checkPeersReachable(flow, env.wireFormat, log);
      if (args.startLsn) await checkReplayStart(parsePostgresSourceConfig(flow.source.options, 'source.options'), parseLsn(args.startLsn), 'flag -start-lsn');
    }
    const flowId = flow.id;
    if (flow.state === 'paused') {
      process.stderr.write(`${PROG}: flow "${flowId}" is paused; resume it (ResumeFlow) to run it\n`);
      return EXIT_OK;
    }

    pipeline = createPipelineContext(env, state, log, backfillHoldOf);
    bindPipelineContext(pipeline);
    const runtimes = pipeline.runtimes;
    const systemDatabaseUrl = systemDatabaseUrlFor(env, flow.source.options.dsn!);
    if (input.backfill) {
      const { runBackfillMode } = await import('./backfillMode');
      return await runBackfillMode({ prog: PROG, flow, env, args: input.backfill, executorId: executorIdFor(`backfill-${flowId}`), systemDatabaseUrl, log });
    }
    runtimes.setRunPolicy(flowId, { maxEmptyReads: args.maxEmptyReads });
    const executorId = executorIdFor(`worker-${flowId}`);
    await launchDbos({ env, executorId, systemDatabaseUrl, log });
    status = startStatusRuntime({
      state,
      runs: new RunHistory(dbosWorkflowReader(DBOS)),
      executor: executorId,
      log: log.child({ component: 'status' }),
      intervalMs: env.ops.statusIntervalMs,
      extensions: state.ddl ? [new DdlStatusExtension(state.ddl)] : [],
      only: new Set([flowId]),
      sample: input.metricsListen !== undefined,
    });
    if (input.metricsListen !== undefined) {
      metricsHttp = await startStatusHttp({ listen: input.metricsListen, tokens: readApiSecurity().tokens, log });
      process.stderr.write(`${PROG}: serving /metrics on http://${metricsHttp.address}\n`);
    }
    presence = new ExecutorPresence({ systemDatabaseUrl, app: env.dbosApp, executorId, log });
    await presence.start();

    let signals = 0;
    const onSignal = (sig: string): void => {
      signals++;
      if (signals > 1) {
        process.stderr.write(`${PROG}: second ${sig}, exiting now\n`);
        process.exit(130);
      }
      process.stderr.write(`${PROG}: ${sig} received, stopping after the current batch (again to exit now)\n`);
      runtimes.requestStop();
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    stopProgress = startProgressReporter(pipeline.progress.of(flowId), log);

    // A run interrupted by a crash is recovered by DBOS at launch (same executor ID): finish it first.
    let last: FlowRunResult | undefined;
    const interrupted = await activeRunOf(flowId);
    if (interrupted) {
      // Interrupted under another executor ID (e.g. a new container hostname): take it over once that one is gone.
      const owner = (await DBOS.getWorkflowStatus(interrupted))?.executorId;
      if (owner && owner !== executorId) {
        const takeover = new RunTakeover({ presence, executorId, appVersion: env.appVersion, afterMs: env.runner.takeoverAfterMs, log });
        if (!(await takeover.takeOverWhenGone(owner))) log.info('the flow is being run by another live process; following its run', { executor: owner });
      }
      log.info('resuming an interrupted run', { run: interrupted });
      last = await followChain(DBOS.retrieveWorkflow<FlowRunResult>(interrupted));
    }
    if (!last || last.end === 'empty' || last.end === 'bounded') {
      // A server's schedule or supervisor runs every `running` flow that has no active run. Mark the
      // flow running only once this worker's run exists, so no server can start a second one in between;
      // a stopped flow is the exception (a run would end at once on seeing `stopped`).
      const markRunning = async (): Promise<void> => {
        if (flow.state !== 'running') await state.flows.setState(flowId, 'running');
      };
      if (flow.state === 'stopped') await markRunning();
      const opts: FlowRunOptions = {
        maxEmptyReads: args.maxEmptyReads,
        startLsn: args.startLsn,
        maxStepsPerRun: env.runner.stepsPerRun,
        onBound: 'successor',
        chainIndex: 0,
      };
      const handle = await DBOS.startWorkflow(flowRun, { workflowID: newRunId(flowId) })(flowId, opts);
      if (flow.state !== 'stopped') await markRunning();
      last = await followChain(handle);
    }
    stopProgress();
    process.stderr.write(`${PROG}: flow "${flowId}" run ended (${last.end}): ${last.rows} rows in ${last.batches} batches, checkpoint ${last.checkpointLsn}\n`);
    return EXIT_OK;
  } finally {
    stopProgress();
    await metricsHttp?.close();
    await pipeline?.runtimes.releaseAll();
    await status?.stop();
    await shutdownDbos();
    await presence?.stop();
    await state.close();
  }
}
