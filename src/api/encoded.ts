import type { ServiceDefinition } from '@grpc/grpc-js';

/**
 * A response already encoded as protobuf bytes (e.g. assembled from cached parts): the server
 * sends it as is instead of encoding an object. Any method of a service added through
 * {@link acceptEncoded} may answer with one.
 */
export class EncodedMessage {
  constructor(readonly bytes: Buffer) {}
}

/** `def` whose methods send an {@link EncodedMessage} answer as is and encode anything else as before. */
export function acceptEncoded(def: ServiceDefinition): ServiceDefinition {
  const out: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(def)) {
    const encode = method.responseSerialize;
    out[name] = { ...method, responseSerialize: (v: unknown) => (v instanceof EncodedMessage ? v.bytes : encode(v)) };
  }
  return out as ServiceDefinition;
}
