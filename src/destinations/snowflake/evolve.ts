import type { AlterSyntax } from '../sql/schema-evolution';
import { quoteIdent as q } from './dialect';

/**
 * Snowflake's ALTER TABLE forms for schema evolution (columns are created nullable, so a kept
 * dropped column takes NULL as it is): `ADD COLUMN`, `RENAME COLUMN … TO`, `ALTER COLUMN … SET
 * DATA TYPE` and `DROP COLUMN`, as Snowflake's ALTER TABLE reference writes them.
 */
export const snowflakeAlterSyntax: AlterSyntax = {
  addColumn: (t, c, type) => `ALTER TABLE ${t} ADD COLUMN ${q(c)} ${type}`,
  renameColumn: (t, from, to) => `ALTER TABLE ${t} RENAME COLUMN ${q(from)} TO ${q(to)}`,
  retypeColumn: (t, c, type) => `ALTER TABLE ${t} ALTER COLUMN ${q(c)} SET DATA TYPE ${type}`,
  dropColumn: (t, c) => `ALTER TABLE ${t} DROP COLUMN ${q(c)}`,
};
