import { backfillCommand } from './backfill';
import type { Command } from './command';
import { ddlCommand } from './ddl';
import { flowCommand } from './flow';
import { slotsCommand } from './slots';
import { publicationCommand } from './publication';
import { streamCommand } from './stream';

/** Every command of `ductstream-admin`. */
export const ADMIN_COMMANDS: readonly Command[] = [streamCommand, publicationCommand, ddlCommand, flowCommand, slotsCommand, backfillCommand];
