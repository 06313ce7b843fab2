import type { PipelineContext } from '../pipeline/context';

let bound: PipelineContext | undefined;

/**
 * Binds the DBOS workflows and steps of this process to its pipeline context. DBOS registers
 * workflow and step functions once per process and their arguments must stay serializable, so
 * this layer (src/workflows) is the one place that reaches the context without it being passed
 * in; everything below it (src/pipeline, the destinations, the source) gets it as an argument.
 * Call once at start-up, before DBOS launches (recovered workflows run at launch).
 */
export function bindPipelineContext(ctx: PipelineContext): void {
  bound = ctx;
}

/** The context bound with {@link bindPipelineContext}; throws when the process has none. */
export function pipelineContext(): PipelineContext {
  if (!bound) throw new Error('no pipeline context: call bindPipelineContext at start-up, before DBOS launches');
  return bound;
}
