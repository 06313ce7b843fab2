import { status as GrpcStatus, Metadata, type ServiceError } from '@grpc/grpc-js';
import { DuctError, describeError, type ErrorCode } from '../core/errors';

/** How each DuctError code reaches a gRPC client. Bad input is never INTERNAL. */
const CODE_MAP: Record<ErrorCode, GrpcStatus> = {
  invalid_argument: GrpcStatus.INVALID_ARGUMENT,
  not_found: GrpcStatus.NOT_FOUND,
  already_exists: GrpcStatus.ALREADY_EXISTS,
  failed_precondition: GrpcStatus.FAILED_PRECONDITION,
  unavailable: GrpcStatus.UNAVAILABLE,
  destination_failed: GrpcStatus.FAILED_PRECONDITION,
  source_failed: GrpcStatus.FAILED_PRECONDITION,
  internal: GrpcStatus.INTERNAL,
};

export function grpcCodeOf(code: ErrorCode): GrpcStatus {
  return CODE_MAP[code];
}

/**
 * The one place where a thrown value becomes a gRPC status: a DuctError keeps its class and its
 * message (which names the field and the fix, secrets removed); anything else is INTERNAL with a
 * redacted message. The field path also travels in the `ductstream-field` trailer.
 */
export function toServiceError(e: unknown): Partial<ServiceError> & { code: GrpcStatus; details: string } {
  const metadata = new Metadata();
  if (e instanceof DuctError) {
    if (e.field) metadata.set('ductstream-field', e.field);
    return { code: grpcCodeOf(e.code), details: e.describe(), metadata };
  }
  return { code: GrpcStatus.INTERNAL, details: describeError(e), metadata };
}
