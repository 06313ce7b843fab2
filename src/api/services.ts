import { backfillServiceRegistration } from './backfill/registration';
import { ddlServiceRegistration } from './ddlRegistration';
import { flowServiceRegistration } from './flows/registration';
import { publicationServiceRegistration } from './publicationRegistration';
import type { ApiServiceRegistration } from './registration';
import { streamServiceRegistration } from './streams/registration';

/**
 * Every gRPC service `./bin/ductstream` serves, besides reflection and grpc.health.v1 (always on).
 * To add one: put its proto in proto/ductstream/v1/ (loaded automatically), write a registration
 * (`{ service: 'ductstream.v1.XService', implement: (ctx) => ({ Method: unary(...) }) }`) beside
 * its handlers, and add it to this list.
 */
export const API_SERVICES: readonly ApiServiceRegistration[] = [
  flowServiceRegistration,
  streamServiceRegistration,
  ddlServiceRegistration,
  publicationServiceRegistration,
  backfillServiceRegistration,
];
