import type { BackfillStatus } from '../services/backfill/status';

/** `1h02m`, `3m05s`, `42s`, `?`. */
export function formatEta(seconds: number | null): string {
  if (seconds === null) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** Lines for a person: the backfill, then one per table (rows done / estimated, partitions done). */
export function backfillStatusLines(s: BackfillStatus): string[] {
  const est = s.estimatedRows === null ? '?' : String(s.estimatedRows);
  const lines = [
    `backfill ${s.backfillId} (flow ${s.flowId}) ${s.status}: ${s.rowsDone}/${est} rows, ${s.rowsPerSecond} rows/s, ETA ${formatEta(s.etaSeconds)}, snapshot ${s.snapshotLsn || '-'}${s.consistent ? '' : ' (not consistent)'}`,
  ];
  for (const t of s.tables) {
    const pct = t.estimatedRows ? ` (${Math.min(100, Math.round((100 * t.rowsDone) / Math.max(1, t.estimatedRows)))}%)` : '';
    lines.push(
      `  ${t.table}: ${t.rowsDone}/${t.estimatedRows ?? '?'} rows${pct}, partitions ${t.partitionsDone}/${t.partitions}${t.partitioning ? ` by ${t.partitioning}` : ''}`,
    );
  }
  if (s.error) lines.push(`  error: ${s.error}`);
  return lines;
}
