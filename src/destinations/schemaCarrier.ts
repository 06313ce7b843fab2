import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TableSchema } from '../core/change';
import { compileAvro } from '../wire/avroSchema';
import type { WireFormat } from '../wire/codec';
import { protoDir } from '../wire/proto';
import { confluentFrame, SchemaRegistryClient } from './schemaRegistry';

/** The header (Kafka, HTTP) that carries the Avro writer schema (JSON) of a message when no registry is used. */
export const AVRO_SCHEMA_HEADER = 'ductstream-avro-schema';

/** The Avro writer schema (JSON text) of change events of `table`: what `avro` messages are encoded with. */
export function avroSchemaJson(table: TableSchema): string {
  return compileAvro(table).schemaJson;
}

let changeProto: string | undefined;

/** The text of `ductstream/v1/change.proto` (ChangeEvent is its first message: index [0]). */
function changeProtoText(): string {
  changeProto ??= readFileSync(path.join(protoDir(), 'ductstream/v1/change.proto'), 'utf8');
  return changeProto;
}

/**
 * How a message tells consumers its schema:
 * - without a registry, avro messages travel with their writer schema in {@link AVRO_SCHEMA_HEADER}
 *   (`schemaHeader` returns it; other formats carry their schema in the payload or are fixed);
 * - with a registry (`schema_registry_url`), avro and proto values are framed in the Confluent wire
 *   format with the id of the schema registered under `<topic>-value` (`frame`).
 */
export class SchemaCarrier {
  private readonly registry?: SchemaRegistryClient;

  constructor(
    private readonly format: WireFormat,
    registryUrl: string | undefined,
    registryField: string,
  ) {
    if (registryUrl !== undefined && (format === 'avro' || format === 'proto')) this.registry = new SchemaRegistryClient(registryUrl, registryField);
  }

  /** True when messages carry the Avro schema in a header. */
  get usesSchemaHeader(): boolean {
    return this.format === 'avro' && !this.registry;
  }

  schemaHeader(table: TableSchema): string {
    return avroSchemaJson(table);
  }

  /** True when values are framed with a registry's schema id. */
  get framed(): boolean {
    return this.registry !== undefined;
  }

  /** A framer of values in the Confluent wire format, after registering the schema under `subject` (once). */
  async framer(subject: string, table: TableSchema): Promise<(payload: Uint8Array) => Uint8Array> {
    const proto = this.format === 'proto';
    const id = await this.registry!.idFor(subject, proto ? changeProtoText() : avroSchemaJson(table), proto ? 'PROTOBUF' : 'AVRO');
    return (payload) => confluentFrame(id, payload, proto);
  }
}
