import type { Command } from './command';
import { backfillCommand } from './backfill';
import { streamCommand } from './stream';

/** Every command of `ductstream-admin`; add `publication` and `ddl` here as they arrive. */
export const ADMIN_COMMANDS: readonly Command[] = [streamCommand, backfillCommand];
