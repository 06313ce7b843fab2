import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestFlowOptions {
  id: string;
  sourceDsn: string;
  slot: string;
  publication: string;
  tables: string[];
  destinations: Array<{ name: string; type: string; options: Record<string, string> }>;
  sourceOptions?: Record<string, string>;
  parallelism?: number;
}

/** A flow object of the seed's shape. */
export function testFlow(o: TestFlowOptions): Record<string, unknown> {
  return {
    id: o.id,
    name: `test flow ${o.id}`,
    source: {
      name: 'pg',
      type: 'postgres',
      options: {
        dsn: o.sourceDsn,
        slot: o.slot,
        publication: o.publication,
        publication_tables: o.tables.join(','),
        batch_timeout: '200ms',
        status_interval: '1s',
        ...o.sourceOptions,
      },
    },
    destinations: o.destinations,
    wire_format: 'json',
    parallelism: o.parallelism ?? 1,
  };
}

/** Writes a flow JSON file into `dir` and returns its path. */
export function writeFlowFile(dir: string, flow: Record<string, unknown>): string {
  const path = join(dir, `${String(flow.id)}.json`);
  writeFileSync(path, JSON.stringify(flow, null, 2));
  return path;
}
