import type { BackfillInput } from '../services/backfill/validate';

/** Flags of `-mode backfill` → the backfill's option names (kept apart so parsing flags loads no driver). */
export const BACKFILL_FLAG_OPTIONS: Record<string, string> = {
  'snapshot-workers': 'snapshot_workers',
  'partition-column': 'partition_column',
  'partition-count': 'partition_count',
};

/** What `ductstream-worker -mode backfill` was asked to do (validated against the flow later). */
export interface BackfillModeArgs {
  input: BackfillInput;
}
