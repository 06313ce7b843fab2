import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { AppState } from '../state/open';
import type { ServiceEnv } from '../config/env';
import type { Logger } from '../core/log';
import type { FlowService } from '../services/flows/service';
import type { StatusSampler } from '../status/sampler';

/** What every gRPC service of the server may use. Handlers stay thin: they call service modules. */
export interface ApiContext {
  env: ServiceEnv;
  /** Stores on DUCTSTREAM_POSTGRES_DSN (pool, flows, checkpoints). */
  state: AppState;
  /** Flow lifecycle and runs (shared with the admin CLI). */
  flows: FlowService;
  /** Flow status (GetFlowStatus, ListFlowStatus); unset where the process samples no status. */
  status?: StatusSampler;
  log: Logger;
}

/**
 * One gRPC service served by `./bin/ductstream`. Its proto must be in `proto/ductstream/v1/`
 * (every file there is loaded, and reflection covers all of them); list the registration in
 * `src/api/services.ts`. `implement` must provide every method of the service.
 */
export interface ApiServiceRegistration {
  /** Fully-qualified proto name, e.g. `ductstream.v1.FlowService`. */
  readonly service: string;
  implement(ctx: ApiContext): UntypedServiceImplementation;
}
