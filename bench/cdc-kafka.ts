/**
 * End-to-end CDC into Kafka (see bench/cdcEvents.ts for the phases and what is measured): the
 * kafka destination (kafkajs, acks=all, one record per change keyed by primary key) against
 * librdkafka's mock broker started with kcat (`apt-get install -y kcat`).
 *
 *   npm run build && node dist/bench/cdc-kafka.js [--rows 200000] [--seconds 10] [--format json]
 *     [--parallelism 1] [--compression none] [--batch-size 1000] [--batch-timeout 100ms]
 */
import { parseWireFormat } from '../src/wire/registry';
import { startKafkaBroker } from '../test/support/peers/kafkaBroker';
import { runEventBench } from './cdcEvents';
import { arg } from './support';

async function main(): Promise<void> {
  const broker = await startKafkaBroker();
  try {
    const compression = arg('compression', 'none');
    await runEventBench({
      title: `bench/cdc-kafka (kcat mock broker, acks=all, compression=${compression})`,
      type: 'kafka',
      wireFormat: parseWireFormat(arg('format', 'json'), '--format'),
      parallelism: Number(arg('parallelism', '1')),
      options: (flowId) => ({ brokers: broker.bootstrap, topic: `${flowId}.{schema}.{table}`, acks: 'all', compression }),
    });
  } finally {
    await broker.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
