import type { DestinationKind } from '../registry';
import { parseHttpConfig, type HttpConfig } from './config';

/**
 * The `http` destination kind: changes pushed to a webhook endpoint. Parsing the options is cheap;
 * `create` loads the client lazily.
 */
export const httpDestinationKind: DestinationKind<HttpConfig> = {
  kind: 'http',
  usesWireFormat: true,
  parseConfig: parseHttpConfig,
  async create(config, ctx) {
    const { HttpDestination } = await import('./destination');
    return new HttpDestination(config, ctx);
  },
};

export type { HttpConfig } from './config';
