import { createHash, timingSafeEqual } from 'node:crypto';
import { Metadata, ServerInterceptingCall, ServerListenerBuilder, status, type ServerInterceptor } from '@grpc/grpc-js';
import type { Logger } from '../core/log';

/** Services every client may call without a token: health checks and server reflection. */
const OPEN_SERVICES = /^\/(grpc\.health\.v1\.Health|grpc\.reflection\.v1(alpha)?\.ServerReflection)\//;

/**
 * Compares a presented token with every accepted one in constant time: both sides are hashed to
 * 32 bytes and compared with timingSafeEqual, and every accepted token is compared (no early exit),
 * so neither the token's length nor its position in the list shows in the timing.
 */
export function tokenMatches(presented: string, accepted: readonly string[]): boolean {
  const p = createHash('sha256').update(presented).digest();
  let ok = false;
  for (const t of accepted) ok = timingSafeEqual(p, createHash('sha256').update(t).digest()) || ok;
  return ok;
}

/** The token of an `authorization: Bearer <token>` header, or undefined. */
export function bearerTokenOf(metadata: Metadata): string | undefined {
  const values = metadata.get('authorization');
  if (values.length !== 1 || typeof values[0] !== 'string') return undefined;
  const m = /^Bearer +(\S+)\s*$/i.exec(values[0]);
  return m?.[1];
}

/**
 * A server interceptor that answers UNAUTHENTICATED, before any handler runs, to every call
 * of a ductstream service without `authorization: Bearer <one of tokens>`. Health and reflection
 * stay open. The status names what to send, never the expected token.
 */
export function bearerAuthInterceptor(tokens: readonly string[], log: Logger): ServerInterceptor {
  return (method, call) => {
    if (OPEN_SERVICES.test(method.path)) return new ServerInterceptingCall(call);
    return new ServerInterceptingCall(call, {
      start: (next) => {
        next(
          new ServerListenerBuilder()
            .withOnReceiveMetadata((metadata, mdNext) => {
              const token = bearerTokenOf(metadata);
              if (token !== undefined && tokenMatches(token, tokens)) return mdNext(metadata);
              log.warn('unauthenticated call refused', {
                method: method.path,
                peer: call.getPeer(),
                reason: token === undefined ? 'no bearer token' : 'wrong token',
              });
              call.sendStatus({
                code: status.UNAUTHENTICATED,
                details:
                  token === undefined
                    ? 'authorization: this server needs a bearer token (send the metadata "authorization: Bearer <token>" with a token of DUCTSTREAM_API_TOKEN)'
                    : "authorization: the bearer token is not accepted (use a token of the server's DUCTSTREAM_API_TOKEN)",
                metadata: new Metadata(),
              });
            })
            .build(),
        );
      },
    });
  };
}
