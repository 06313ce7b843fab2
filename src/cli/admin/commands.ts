import type { Command } from './command';
import { ddlCommand } from './ddl';
import { flowCommand, slotsCommand } from './flow';
import { publicationCommand } from './publication';
import { streamCommand } from './stream';

/** Every command of `ductstream-admin`; add `publication` and `ddl` here as they arrive. */
export const ADMIN_COMMANDS: readonly Command[] = [streamCommand, publicationCommand, ddlCommand, flowCommand, slotsCommand];
