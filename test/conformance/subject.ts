/**
 * The registration interface of the destination conformance suite.
 *
 * Adding a destination to the suite = one reader + one registration:
 *
 * 1. A reader module `test/conformance/readers/<kind>.ts` exporting a {@link ConformanceSubject}:
 *    how to start its peer (once per test file), how to make an isolated target (options for a
 *    fresh topic / bucket prefix / file / stream), and how to read back what was written there.
 * 2. A registration file `test/conformance/<kind>.test.ts` of one statement:
 *
 *        conformanceSuite(pgstreamSubject);
 *
 * The suite (suite.ts) then runs every scenario of scenarios.ts against the destination through
 * the `Destination` contract (batches built with test/support/changes.ts), and the crash scenario
 * through the real source + worker binary (crash.ts), and compares what the reader returns with
 * the state the changes imply (materialize.ts). Values are compared in canonical form
 * (canonical.ts), so a reader may return whatever exact representation its store holds.
 */
import type { TableSchema } from '../../src/core/change';
import type { ApplyCapability } from '../../src/destinations/destination';
import type { ChangeEnvelope, WireFormat } from '../../src/wire/codec';
import type { CanonicalRow } from './canonical';

/** Every scenario of the suite, by name (for `skip`). */
export const SCENARIOS = [
  'inserts, updates and deletes',
  'truncate',
  'a batch delivered twice',
  'every common type with full precision',
  'NULLs and unchanged TOAST values',
  'a large batch',
  'several tables in one flow',
  'parallelism > 1',
  'crash between write and checkpoint (worker, kill -9)',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** The table scenarios that a subject may skip (see `skipTable`). */
export type TableScenarioSlug = 'partial';

/**
 * What a reader returns:
 * - `rows` for table destinations (DuckDB, warehouses): the rows present now in each table
 *   (`schema.table`), canonical (see `canonicalRow`); the suite compares them with the expected state.
 * - `events` for event destinations (Kafka, S3, HTTP, pgstream): every change delivered, decoded, in
 *   the order delivered per row (e.g. a Kafka partition's order, an HTTP peer's receive order, S3
 *   objects in key order), duplicates included. The suite checks at-least-once delivery (every change
 *   present), stable identities (a duplicate carries the same `id` and the same content, distinct
 *   changes distinct ids), per-row order, and the state after applying them in stream order.
 */
export type ReadBack = { shape: 'rows'; tables: Map<string, CanonicalRow[]> } | { shape: 'events'; events: DeliveredEvent[] };

export interface DeliveredEvent {
  envelope: ChangeEnvelope;
  /**
   * The identity a consumer deduplicates by: the idempotency key (Kafka header, HTTP header), or the
   * change's stream position (`commit_lsn/seq`) where the destination has no key of its own (S3).
   */
  id: string;
  /** Where it was found (topic/partition/offset, object key, request number), for failure messages. */
  where?: string;
}

/** A fresh place for one scenario to write to, and the way to read it back. */
export interface ConformanceTarget {
  /** The destination's options (flow JSON `destinations[].options`); `format` may be among them. */
  options: Record<string, string>;
  /** Reads back everything written so far for these tables (the scenario's schemas). */
  read(schemas: TableSchema[]): Promise<ReadBack>;
  /** Releases what the target holds (files, handles); called after the scenario. */
  dispose?(): Promise<void>;
}

export interface ConformanceSubject {
  /** Destination type as in flow JSON, e.g. `kafka`. */
  type: string;
  /**
   * Table destinations: how the destination declares it applies (`TableDestination.applies`); the
   * suite then also runs the table scenarios (table-scenarios.ts) for that capability. Event
   * destinations leave it unset and must declare at-least-once delivery.
   */
  applies?: ApplyCapability;
  /** Name in test titles when it differs from `type`, e.g. `kafka (avro)`. */
  label?: string;
  /**
   * Wire formats to run the types scenario with (each through the reader's decoder); the first one
   * is used by the other scenarios. Omit for destinations that write typed rows.
   */
  formats?: WireFormat[];
  /** Starts the peer(s) the destination talks to; once per test file, before any target. */
  start?(): Promise<void>;
  /** Stops them; once per test file. */
  stop?(): Promise<void>;
  /**
   * Options and reader for an isolated target. `scenario` is a short slug usable in names (letters,
   * digits, `_`); `format` is the wire format to put in the options (undefined for typed-row kinds).
   */
  target(scenario: string, format: WireFormat | undefined): Promise<ConformanceTarget>;
  /** Time the crash scenario may take (default 120 s): a destination that applies slowly by design needs more. */
  crashTimeoutMs?: number;
  /** Rows in the large-batch scenario (default 10,000). */
  largeBatchRows?: number;
  /** Scenarios that do not apply, with the reason (shown as a skipped test). */
  skip?: Partial<Record<ScenarioName, string>>;
  /** Table scenarios (table-scenarios.ts, by slug) that do not apply, with the reason. */
  skipTable?: Partial<Record<TableScenarioSlug, string>>;
}
