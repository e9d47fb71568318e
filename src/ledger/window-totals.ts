import type {
  LocalVerdict,
  MinerTotals,
  TimeWindow,
  UpstreamTotals,
  UpstreamVerdict,
  WorkTotals,
} from './ledger.js';
import { LOCAL_VERDICTS, UPSTREAM_VERDICTS } from './verdicts.js';

/**
 * Window totals as both backends compute them: one aggregate row per group, its key columns
 * then the totals columns (the credited difficulty, then a count per verdict as columns, not
 * rows), turned into the totals the validator scores by.
 */

/**
 * A group's totals in `totalsColumns` order: the credited difficulty (SQLite's a number;
 * PostgreSQL's the exact numeric as text, null when nothing was credited), then a count per
 * local verdict and per upstream verdict, in verdicts.ts order.
 */
export type TotalsTail = [credited: number | string | null, ...counts: number[]];
export type MinerTotalsRow = [miner: string, worker: string, ...TotalsTail];
export type UpstreamTotalsRow = [upstream: string, ...TotalsTail];

/** How a backend's SQL says the totals columns. */
export interface TotalsDialect {
  /** The sum of `assigned_difficulty` over the group's accepted shares. */
  readonly credited: string;
  /** The count of the group's rows whose `column` holds `verdict`. */
  count(column: 'verdict' | 'upstream_verdict', verdict: string): string;
}

/** The totals columns of a SELECT, in TotalsTail order. */
export function totalsColumns(sql: TotalsDialect): string {
  return [
    sql.credited,
    ...LOCAL_VERDICTS.map((v) => sql.count('verdict', v)),
    ...UPSTREAM_VERDICTS.map((v) => sql.count('upstream_verdict', v)),
  ].join(', ');
}

export function minerTotals(rows: readonly MinerTotalsRow[], window: TimeWindow): MinerTotals[] {
  return rows.map(([miner, worker, ...tail]) => ({ miner, worker, ...workTotals(tail, window) }));
}

export function upstreamTotals(rows: readonly UpstreamTotalsRow[], window: TimeWindow): UpstreamTotals[] {
  return rows.map(([upstream, ...tail]) => ({ upstream, ...workTotals(tail, window) }));
}

function workTotals([credited, ...counts]: TotalsTail, window: TimeWindow): WorkTotals {
  const sharesByVerdict: Partial<Record<LocalVerdict, number>> = {};
  const sharesByUpstreamVerdict: Partial<Record<UpstreamVerdict, number>> = {};
  LOCAL_VERDICTS.forEach((verdict, i) => {
    const count = counts[i] ?? 0;
    if (count > 0) sharesByVerdict[verdict] = count;
  });
  UPSTREAM_VERDICTS.forEach((verdict, i) => {
    const count = counts[LOCAL_VERDICTS.length + i] ?? 0;
    if (count > 0) sharesByUpstreamVerdict[verdict] = count;
  });
  // Text is rounded once, here, to the nearest double.
  const creditedDifficulty = credited === null ? 0 : Number(credited);
  return {
    creditedDifficulty,
    hashrate: (creditedDifficulty * 2 ** 32) / ((window.to - window.from) / 1000),
    sharesByVerdict,
    sharesByUpstreamVerdict,
  };
}
