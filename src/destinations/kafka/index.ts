import type { DestinationKind } from '../registry';
import { parseKafkaConfig, type KafkaConfig } from './config';

/**
 * The `kafka` and `bufstream` destination kinds: one record per change on a Kafka-protocol broker
 * (Bufstream is Kafka-compatible and takes the same options). Parsing the options loads no driver;
 * `create` imports kafkajs lazily.
 */
function kafkaProtocolKind(kind: 'kafka' | 'bufstream'): DestinationKind<KafkaConfig> {
  return {
    kind,
    usesWireFormat: true,
    parseConfig: (options, path) => parseKafkaConfig(kind, options, path),
    async create(config, ctx) {
      const { KafkaDestination } = await import('./destination');
      return new KafkaDestination(config, ctx);
    },
  };
}

export const kafkaDestinationKind = kafkaProtocolKind('kafka');
export const bufstreamDestinationKind = kafkaProtocolKind('bufstream');
export type { KafkaConfig } from './config';
