import type { LocalPathOption } from '../config/localPaths';
import type { OptionMap } from '../config/options';
import { invalidArgument } from '../core/errors';
import type { Logger } from '../core/log';
import type { SourceRowReader } from '../core/sourceRows';
import type { WireFormat } from '../wire/codec';
import type { Destination } from './destination';

/** What a destination gets from the flow it belongs to. */
export interface DestinationContext {
  flowId: string;
  /** The destination's name in the flow (unique within the flow). */
  name: string;
  /** The wire format resolved for this destination (options.format → flow.wire_format → service default → json). */
  wireFormat: WireFormat;
  /** Max concurrent writes the destination may use within one batch (flow.parallelism). */
  parallelism: number;
  log: Logger;
  /**
   * Opens a reader of the flow's source rows by key (the caller closes it): for values a change does
   * not carry. Absent where no source is at hand (tests, tools).
   */
  sourceRows?: () => SourceRowReader;
}

/**
 * One destination kind. `parseConfig` is cheap and imports no driver: it runs at flow validation
 * (API, CLI, worker start). `create` loads the driver lazily, so a DuckDB flow never loads kafkajs.
 */
export interface DestinationKind<C = unknown> {
  readonly kind: string;
  /** Turns string options into the typed config, with defaults; throws DuctError naming `path.key`. */
  parseConfig(options: OptionMap, path: string): C;
  /** Whether this kind sends encoded payloads (and so uses a wire format), or writes typed rows. */
  readonly usesWireFormat: boolean;
  create(config: C, ctx: DestinationContext): Promise<Destination>;
  /**
   * The options naming files on the machine that runs the flow (read or written when the
   * destination opens). Flows created through the API must keep them inside DUCTSTREAM_DATA_DIR
   * (src/config/localPaths.ts). Omitted: the kind touches no local file.
   */
  localPaths?(options: OptionMap): LocalPathOption[];
}

const kinds = new Map<string, DestinationKind>();

export function registerDestinationKind<C>(kind: DestinationKind<C>): void {
  kinds.set(kind.kind, kind);
}

export function destinationKinds(): string[] {
  return [...kinds.keys()].sort();
}

export function getDestinationKind(type: string, field: string): DestinationKind {
  const k = kinds.get(type);
  if (!k) throw invalidArgument(field, `unknown destination type "${type}"`, `use one of: ${destinationKinds().join(', ')}`);
  return k;
}
