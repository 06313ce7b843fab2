import { resolveDestinationFormat } from '../config/flow';
import type { Flow } from '../core/flow';
import type { Logger } from '../core/log';
import type { Destination } from '../destinations/destination';
import { getDestinationKind } from '../destinations/registry';
import type { WireFormat } from '../wire/codec';
import { parsePostgresSourceConfig } from '../source/postgres/config';
import { PostgresRowReader } from '../source/postgres/rowsByKey';

/**
 * Creates and opens every destination of a flow, in order, with its resolved wire format. If one
 * fails to open, those already opened are closed and the error (naming the destination's option) is
 * thrown.
 */
export async function openFlowDestinations(flow: Flow, serviceWireFormat: WireFormat, log: Logger): Promise<Destination[]> {
  const opened: Destination[] = [];
  const source = parsePostgresSourceConfig(flow.source.options, 'source.options');
  try {
    for (const [i, d] of flow.destinations.entries()) {
      const kind = getDestinationKind(d.type, `destinations[${i}].type`);
      const config = kind.parseConfig(d.options, `destinations[${i}].options`);
      const dest = await kind.create(config, {
        flowId: flow.id,
        name: d.name,
        wireFormat: resolveDestinationFormat(d, flow.wire_format, serviceWireFormat, i),
        parallelism: flow.parallelism,
        log: log.child({ destination: d.name }),
        sourceRows: () => new PostgresRowReader(source.dsn, 'source.options.dsn', source.resolveTypes),
      });
      opened.push(dest);
      await dest.open();
    }
    return opened;
  } catch (e) {
    await Promise.allSettled(opened.map((d) => d.close()));
    throw e;
  }
}

/** Opens and closes every destination once: a worker's fast check that its peers answer before it runs. */
export async function checkFlowDestinations(flow: Flow, serviceWireFormat: WireFormat, log: Logger): Promise<void> {
  const opened = await openFlowDestinations(flow, serviceWireFormat, log);
  await Promise.allSettled(opened.map((d) => d.close()));
}
