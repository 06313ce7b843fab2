import type { FlagSpec } from '../flags';

/** `-json`, which every admin subcommand that prints a result takes. */
export const JSON_FLAG: FlagSpec = { name: 'json', type: 'bool', help: 'print one JSON document (for scripts)' };
