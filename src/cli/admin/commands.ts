import { backfillCommand } from './backfill';
import type { Command } from './command';
import { flowCommand } from './flow';
import { streamCommand } from './stream';

/** Every command of `ductstream-admin`; add `publication` and `ddl` here as they arrive. */
export const ADMIN_COMMANDS: readonly Command[] = [streamCommand, flowCommand, backfillCommand];
