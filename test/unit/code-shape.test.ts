import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The style rule "no file over 400 lines", checked over every source file in src/. */
const ROOT = join(__dirname, '..', '..');
const MAX_LINES = 400;

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const p = join(dir, name);
    return statSync(join(ROOT, p)).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test(`no source file in src/ is over ${MAX_LINES} lines`, () => {
  const files = tsFiles('src');
  expect(files.length).toBeGreaterThan(100);
  const long = files.map((f) => `${f}: ${readFileSync(join(ROOT, f), 'utf8').split('\n').length - 1}`).filter((l) => Number(l.split(': ')[1]) > MAX_LINES);
  expect(long).toEqual([]);
});

/** Relative imports of a source file, resolved to paths under the repository root. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/from '(\.[^']+)'/g)].map((m) => join(file, '..', m[1]!));
}

test('the stream store imports neither the pgstream destination nor the stream service, and they do not import each other', () => {
  const offenders = (dir: string, forbidden: string[]): string[] =>
    tsFiles(dir).flatMap((f) =>
      importsOf(f)
        .filter((i) => forbidden.some((p) => i.startsWith(p)))
        .map((i) => `${f} -> ${i}`),
    );
  expect(offenders('src/pgstream', ['src/destinations', 'src/services'])).toEqual([]);
  expect(offenders('src/services/streams', ['src/destinations'])).toEqual([]);
  expect(offenders('src/destinations/pgstream', ['src/services'])).toEqual([]);
});

test('no product code imports test and benchmark tooling (tools/, test/, bench/)', () => {
  const offenders = tsFiles('src').flatMap((f) =>
    importsOf(f)
      .filter((i) => /^(tools|test|bench)\//.test(i))
      .map((i) => `${f} -> ${i}`),
  );
  expect(offenders).toEqual([]);
});
