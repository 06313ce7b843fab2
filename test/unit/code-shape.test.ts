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
