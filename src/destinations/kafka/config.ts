import { OptionReader, type OptionMap } from '../../config/options';
import { invalidArgument } from '../../core/errors';
import type { RetryPolicy } from '../../core/retry';
import { readRetryOptions } from '../retryOptions';
import { parseRegistryUrl } from '../schemaRegistry';
import { parseWireFormat } from '../../wire/registry';
import { parseTopicTemplate, type TopicTemplate } from './topics';
import { RECORD_COMPRESSIONS, type RecordCompression } from './compression';

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** Every default of the kafka/bufstream destination, in one place. */
export const KAFKA_DEFAULTS = {
  topic: '{schema}.{table}',
  compression: 'none' as RecordCompression,
  acks: 'all',
  clientId: 'ductstream',
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  /** Kafka's default `message.max.bytes` is 1 MiB: requests stay under it. */
  maxRequestBytes: 900_000,
  maxRetries: 5,
  backoffBaseMs: 200,
  backoffMaxMs: 10_000,
  backoffFactor: 2,
  /** A null-value record after every delete (and after the delete of a key change's old key). */
  tombstones: true,
};

export interface KafkaConfig {
  /** `kafka` or `bufstream` (same protocol, same options). */
  kind: string;
  /** `host:port` seed brokers. */
  brokers: string[];
  topic: TopicTemplate;
  /** Record batch codec (compression.ts). */
  compression: RecordCompression;
  /** -1 = all in-sync replicas (durable), 1 = the leader only, 0 = no acknowledgement (not durable). */
  acks: -1 | 0 | 1;
  clientId: string;
  tls: boolean;
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxRequestBytes: number;
  retry: RetryPolicy;
  /** Write a tombstone (null value) for a deleted key after its delete record, for log compaction. */
  tombstones: boolean;
  /** Confluent-compatible schema registry: avro/proto values in its wire format (magic byte, schema id). */
  schemaRegistryUrl?: string;
  /** Field paths for errors found when connecting, e.g. `destinations[0].options.brokers`. */
  fields: { brokers: string; topic: string; schemaRegistryUrl: string };
}

const BROKER = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/**
 * Parses the options of a kafka or bufstream destination (docs/usage.md, "kafka, bufstream": `brokers`, `topic`, `format`,
 * `compression`, `acks`; plus client_id, tls, sasl_*, timeouts, retries). `path` is the options'
 * field path, e.g. `destinations[0].options`. Unknown keys are rejected.
 */
export function parseKafkaConfig(kind: string, options: OptionMap, path: string): KafkaConfig {
  const r = new OptionReader(options, path);
  const d = KAFKA_DEFAULTS;
  const brokers = r.list('brokers');
  if (brokers.length === 0) throw invalidArgument(r.field('brokers'), 'is required', 'set brokers to host:port[,host:port...], e.g. localhost:9092');
  for (const b of brokers) {
    const m = BROKER.exec(b);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
      throw invalidArgument(r.field('brokers'), `"${b}" is not host:port`, 'list brokers as host:port separated by commas, e.g. broker1:9092,broker2:9092');
  }
  const topic = parseTopicTemplate(r.string('topic', d.topic), r.field('topic'));
  const format = r.raw('format');
  if (format !== undefined) parseWireFormat(format, r.field('format'));
  const compression = r.oneOf('compression', RECORD_COMPRESSIONS, d.compression);
  const acksText = r.oneOf('acks', ['all', '-1', '1', '0'] as const, 'all');
  const acks = acksText === 'all' || acksText === '-1' ? -1 : acksText === '1' ? 1 : 0;
  const clientId = r.string('client_id', d.clientId);
  const tls = r.bool('tls', false);
  const mechanism = r.raw('sasl_mechanism') === undefined ? undefined : r.oneOf('sasl_mechanism', SASL_MECHANISMS, 'plain');
  let sasl: KafkaConfig['sasl'];
  if (mechanism) {
    const username = r.required('sasl_username', 'set sasl_username (and sasl_password) for SASL authentication');
    const password = r.required('sasl_password', 'set sasl_password for SASL authentication');
    sasl = { mechanism, username, password };
  } else if (r.has('sasl_username') || r.has('sasl_password')) {
    throw invalidArgument(r.field('sasl_mechanism'), 'is required with sasl_username/sasl_password', `use one of: ${SASL_MECHANISMS.join(', ')}`);
  }
  const connectTimeoutMs = r.durationMs('connect_timeout', d.connectTimeoutMs, { minMs: 100 });
  const requestTimeoutMs = r.durationMs('request_timeout', d.requestTimeoutMs, { minMs: 100 });
  const maxRequestBytes = r.int('max_request_bytes', d.maxRequestBytes, { min: 1024 });
  const retry = readRetryOptions(r, d);
  const tombstones = r.bool('tombstones', d.tombstones);
  const registry = parseRegistryUrl(r.raw('schema_registry_url'), r.field('schema_registry_url'));
  r.rejectUnknown();
  return {
    kind,
    brokers,
    topic,
    compression,
    acks,
    clientId,
    tls,
    sasl,
    connectTimeoutMs,
    requestTimeoutMs,
    maxRequestBytes,
    retry,
    tombstones,
    ...(registry !== undefined ? { schemaRegistryUrl: registry } : {}),
    fields: { brokers: r.field('brokers'), topic: r.field('topic'), schemaRegistryUrl: r.field('schema_registry_url') },
  };
}
