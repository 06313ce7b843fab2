import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The README's code layout names every folder of src/ and only folders that exist. */
const ROOT = join(__dirname, '..', '..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const layout = readme.slice(readme.indexOf('Code layout'), readme.indexOf('\n## ', readme.indexOf('Code layout')));

test('the README layout paragraph matches the tree', () => {
  expect(layout.length).toBeGreaterThan(100);
  const folders = readdirSync(join(ROOT, 'src')).filter((f) => statSync(join(ROOT, 'src', f)).isDirectory());
  expect(folders.filter((f) => !layout.includes(`\`src/${f}\``) && !layout.includes(`\`src/${f}/`))).toEqual([]);
  const named = [...layout.matchAll(/`((?:src|test)\/[\w/]+|[a-z]+\/)`/g)].map((m) => m[1]!.replace(/\/$/, ''));
  expect(named.length).toBeGreaterThan(20);
  expect(named.filter((p) => !existsSync(join(ROOT, p)))).toEqual([]);
});
