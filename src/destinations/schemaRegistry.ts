import { DuctError, invalidArgument } from '../core/errors';
import { redactSecrets } from '../core/redact';

/** Magic byte of the Confluent wire format. */
const MAGIC = 0;

/**
 * A client of the subset of the Confluent Schema Registry REST API a producer needs: registering a
 * schema under a subject (`POST /subjects/{subject}/versions`), which returns its global id. Ids are
 * cached per (subject, schema), so a schema is registered once per process and destination.
 *
 * Contract: `idFor` resolves to the registry's id for the schema (registering is idempotent on the
 * registry side: the same schema under the same subject gets the same id). A refusal (4xx:
 * incompatible schema, bad subject) is permanent (`never`); an unreachable registry or a 5xx is
 * `transient`.
 */
export class SchemaRegistryClient {
  private readonly ids = new Map<string, Promise<number>>();

  constructor(
    private readonly baseUrl: string,
    private readonly field: string,
    private readonly timeoutMs = 10_000,
  ) {}

  idFor(subject: string, schema: string, schemaType: 'AVRO' | 'PROTOBUF'): Promise<number> {
    const k = `${subject}\u0000${schema}`;
    let id = this.ids.get(k);
    if (!id) {
      id = this.register(subject, schema, schemaType);
      this.ids.set(k, id);
      id.catch(() => this.ids.delete(k));
    }
    return id;
  }

  private async register(subject: string, schema: string, schemaType: 'AVRO' | 'PROTOBUF'): Promise<number> {
    const url = `${this.baseUrl}/subjects/${encodeURIComponent(subject)}/versions`;
    const body = JSON.stringify(schemaType === 'AVRO' ? { schema } : { schema, schemaType });
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new DuctError('unavailable', `${this.field}: cannot reach the schema registry to register subject ${subject}: ${(e as Error).message}`, {
        retry: 'transient',
        field: this.field,
        cause: e,
      });
    }
    const text = await res.text();
    if (!res.ok) {
      throw new DuctError(
        res.status >= 500 ? 'unavailable' : 'failed_precondition',
        `${this.field}: the schema registry refused subject ${subject} (HTTP ${res.status}): ${redactSecrets(text.slice(0, 300))}`,
        { retry: res.status >= 500 ? 'transient' : 'never', field: this.field, hint: "check the subject's compatibility setting, or use a new topic" },
      );
    }
    const id = (JSON.parse(text) as { id?: unknown }).id;
    if (typeof id !== 'number') throw new DuctError('unavailable', `${this.field}: the schema registry answered without an id`, { retry: 'transient' });
    return id;
  }
}

/**
 * A payload in the Confluent wire format: magic byte 0, the schema id (4 bytes, big-endian), for
 * protobuf the message indexes (`[0]` written as the single byte 0), then the encoded message.
 */
export function confluentFrame(id: number, payload: Uint8Array, protobuf: boolean): Uint8Array {
  const head = protobuf ? 6 : 5;
  const out = Buffer.allocUnsafe(head + payload.byteLength);
  out[0] = MAGIC;
  out.writeUInt32BE(id, 1);
  if (protobuf) out[5] = 0;
  out.set(payload, head);
  return out;
}

/** `schema_registry_url`: an http(s) base URL, without its trailing slashes. */
export function parseRegistryUrl(text: string | undefined, field: string): string | undefined {
  if (text === undefined) return undefined;
  if (!/^https?:\/\/[^\s/]+/.test(text))
    throw invalidArgument(field, 'is not an http(s) URL', "set schema_registry_url to the registry's base URL, e.g. http://registry:8081");
  return text.replace(/\/+$/, '');
}
