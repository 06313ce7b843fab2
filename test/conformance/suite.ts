/**
 * The conformance suite: `conformanceSuite(subject)` in a test file runs every scenario against one
 * destination kind. See subject.ts for how to register a destination.
 */
import '../../src/destinations';
import { silentLogger } from '../../src/core/log';
import type { Destination, EventDestination } from '../../src/destinations/destination';
import { getDestinationKind } from '../../src/destinations/registry';
import { toEncodedBatch } from '../../src/pipeline/encodedBatch';
import { envelopeOf } from '../../src/wire/envelope';
import { getCodec, resolveWireFormat } from '../../src/wire/registry';
import type { WireFormat } from '../../src/wire/codec';
import { ChangeLog } from '../support/changes';
import { checkEvents, stateOf } from './checks';
import { crashScenario } from './crash';
import { changeLogRowReader } from './logSource';
import { materialize } from './materialize';
import { SCENARIO_LIST, type Scenario } from './scenarios';
import type { ConformanceSubject, ConformanceTarget, ScenarioName } from './subject';
import { tableScenarios } from './table-scenarios';

/** Opens the subject's destination on `target` through its kind, as the runner does. */
export async function openDestination(
  subject: ConformanceSubject,
  target: ConformanceTarget,
  flowId: string,
  parallelism: number,
  log?: ChangeLog,
): Promise<Destination> {
  const kind = getDestinationKind(subject.type, 'destinations[0].type');
  const config = kind.parseConfig(target.options, 'destinations[0].options');
  const wireFormat: WireFormat = resolveWireFormat(target.options.format, '', undefined);
  const dest = await kind.create(config, {
    flowId,
    name: 'dest',
    wireFormat,
    parallelism,
    log: silentLogger,
    ...(log ? { sourceRows: () => changeLogRowReader(log) } : {}),
  });
  await dest.open();
  return dest;
}

async function runScenario(subject: ConformanceSubject, scenario: Scenario, format: WireFormat | undefined): Promise<void> {
  const slug = format && format !== subject.formats?.[0] ? `${scenario.slug}_${format}` : scenario.slug;
  const target = await subject.target(slug, format);
  try {
    const log = new ChangeLog(`conf-${slug}`);
    const dest = await openDestination(subject, target, log.flowId, scenario.parallelism ?? 1, log);
    try {
      await scenario.play(log, (b) => dest.write(toEncodedBatch(b, (f) => getCodec(f))), { largeBatchRows: subject.largeBatchRows ?? 10_000 });
    } finally {
      await dest.close();
    }
    const sent = log.all.map(envelopeOf);
    const expected = materialize(sent, scenario.tables);
    const back = await target.read(scenario.tables);
    if (back.shape === 'events') {
      const report = checkEvents(back.events, scenario.tables, sent);
      expect({ ...report, delivered: undefined }).toEqual({
        delivered: undefined,
        distinct: sent.length,
        missing: [],
        unexpected: [],
        inconsistentDuplicates: [],
        sharedIds: [],
        outOfOrder: [],
      });
    }
    const actual = stateOf(back, scenario.tables);
    for (const [name, rows] of expected) expect({ table: name, rows: actual.get(name) }).toEqual({ table: name, rows });
  } finally {
    await target.dispose?.();
  }
}

function testOrSkip(subject: ConformanceSubject, name: ScenarioName, title: string, fn: () => Promise<void>, timeoutMs?: number): void {
  const reason = subject.skip?.[name];
  if (reason) test.skip(`${title} (skipped: ${reason})`, () => undefined);
  else test(title, fn, timeoutMs);
}

/** Registers the whole suite for `subject` in the calling test file. */
export function conformanceSuite(subject: ConformanceSubject): void {
  describe(`conformance: ${subject.label ?? subject.type}`, () => {
    beforeAll(async () => {
      await subject.start?.();
    }, 60_000);
    afterAll(async () => {
      await subject.stop?.();
    }, 60_000);

    for (const scenario of SCENARIO_LIST) {
      const formats = scenario.slug === 'types' && subject.formats ? subject.formats : [subject.formats?.[0]];
      for (const format of formats) {
        const title = format && formats.length > 1 ? `${scenario.name} (${format})` : scenario.name;
        testOrSkip(subject, scenario.name, title, () => runScenario(subject, scenario, format), 60_000);
      }
    }

    if (subject.applies) {
      describe(`table destination (${subject.applies})`, () => {
        tableScenarios({
          subject,
          open: (options, log) => openDestination(subject, { options, read: () => Promise.reject(new Error('unused')) }, log.flowId, 1, log),
        });
      });
    } else {
      test('declares at-least-once delivery (consumers dedup by idempotency key)', async () => {
        const target = await subject.target('declares', subject.formats?.[0]);
        try {
          const dest = await openDestination(subject, target, 'conf-declares', 1);
          await dest.close();
          expect((dest as Partial<EventDestination>).delivery).toBe('at_least_once');
        } finally {
          await target.dispose?.();
        }
      });
    }

    testOrSkip(
      subject,
      'crash between write and checkpoint (worker, kill -9)',
      'crash between write and checkpoint (worker, kill -9)',
      () => crashScenario(subject),
      subject.crashTimeoutMs ?? 120_000,
    );
  });
}
