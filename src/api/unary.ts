import type { handleUnaryCall, ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import { DuctError } from '../core/errors';
import type { Logger } from '../core/log';
import { toServiceError } from './status';

/**
 * Wraps an async handler into a grpc-js unary handler: its result is the response, a thrown
 * DuctError becomes its gRPC status (src/api/status.ts). Unexpected errors are logged (redacted).
 */
export function unary<Req, Res>(log: Logger, method: string, fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    fn(call.request, call).then(
      (res) => callback(null, res),
      (e: unknown) => {
        const err = toServiceError(e);
        if (!(e instanceof DuctError) || e.code === 'internal' || e.code === 'unavailable')
          log.warn('request failed', { method, code: err.code, error: err.details });
        else log.debug('request rejected', { method, code: err.code, error: err.details });
        callback(err, null);
      },
    );
  };
}
