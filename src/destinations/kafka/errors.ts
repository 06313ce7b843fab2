import { DuctError, type RetryClass } from '../../core/errors';
import { redactSecrets } from '../../core/redact';

/** The shape of kafkajs errors this module reads (no import of kafkajs here, so it stays light). */
interface KafkaJsErrorLike {
  name?: string;
  message?: string;
  retriable?: boolean;
  type?: string;
  originalError?: unknown;
  cause?: unknown;
}

/** The error a kafkajs wrapper (retries exceeded, non-retriable) carries. */
function innerOf(err: KafkaJsErrorLike): KafkaJsErrorLike | undefined {
  const inner = err.originalError ?? err.cause;
  return inner && typeof inner === 'object' ? inner : undefined;
}

const ALWAYS_RETRIED = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
  'KafkaJSLockTimeout',
]);
const PERMANENT_PROTOCOL = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_TOPIC_EXCEPTION',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'UNSUPPORTED_COMPRESSION_TYPE',
  'INVALID_REQUIRED_ACKS',
  'UNSUPPORTED_VERSION',
  'INVALID_RECORD',
  'SASL_AUTHENTICATION_FAILED',
]);

/** The retry class of a kafkajs error (unwrapping retry/non-retriable wrappers). */
export function kafkaRetryClass(e: unknown): RetryClass {
  if (e instanceof DuctError) return e.retry;
  const err = (e ?? {}) as KafkaJsErrorLike;
  if (err.name === 'KafkaJSNumberOfRetriesExceeded' || err.name === 'KafkaJSNonRetriableError') {
    const inner = innerOf(err);
    return inner ? kafkaRetryClass(inner) : 'backoff';
  }
  if (err.name === 'KafkaJSSASLAuthenticationError') return 'never';
  if (err.type && PERMANENT_PROTOCOL.has(err.type)) return 'never';
  if (err.name && ALWAYS_RETRIED.has(err.name)) return 'backoff';
  if (err.name === 'KafkaJSProtocolError') return err.retriable ? 'backoff' : 'never';
  return err.retriable === false ? 'never' : 'backoff';
}

function hintFor(e: unknown, fields: { brokers: string; topic: string }): string | undefined {
  const err = (e ?? {}) as KafkaJsErrorLike;
  const inner = innerOf(err);
  const type = err.type ?? inner?.type;
  const name = inner?.name ?? err.name;
  if (name === 'KafkaJSSASLAuthenticationError') return 'check sasl_mechanism, sasl_username and sasl_password';
  if (type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE') return 'lower max_request_bytes, or raise the broker/topic max.message.bytes';
  if (type === 'TOPIC_AUTHORIZATION_FAILED' || type === 'INVALID_TOPIC_EXCEPTION') return `check ${fields.topic} and the client's ACLs`;
  if (name === 'KafkaJSConnectionError' || name === 'KafkaJSBrokerNotFound') return `check that ${fields.brokers} lists reachable brokers`;
  return undefined;
}

/**
 * Wraps a kafkajs failure into a DuctError classified for retry, naming the destination and what
 * it was doing. Broker messages are redacted; SASL credentials never reach them.
 */
export function kafkaError(e: unknown, what: string, ctx: { kind: string; name: string; fields: { brokers: string; topic: string } }): DuctError {
  if (e instanceof DuctError) return e;
  const err = (e ?? {}) as KafkaJsErrorLike;
  const inner = innerOf(err);
  const parts = [err.message ?? String(e)];
  if (inner?.message && inner.message !== err.message) parts.push(inner.message);
  const detail = redactSecrets(parts.join(': '));
  const retry = kafkaRetryClass(e);
  return new DuctError(retry === 'never' ? 'destination_failed' : 'unavailable', `${ctx.kind} destination "${ctx.name}": ${what}: ${detail}`, {
    retry,
    hint: hintFor(e, ctx.fields),
    cause: e,
  });
}
