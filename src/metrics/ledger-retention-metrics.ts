import { Counter, type Registry } from 'prom-client';

const PRUNED_ROWS = 'hashrelay_ledger_pruned_rows_total';

/** `hashrelay_ledger_pruned_rows_total{table}`: rows retention deleted, by table (shares, jobs, reject_summaries). */
export function prunedRowsCounter(registry: Registry): Counter<'table'> {
  const existing = registry.getSingleMetric(PRUNED_ROWS);
  if (existing !== undefined) return existing as Counter<'table'>;
  return new Counter({
    name: PRUNED_ROWS,
    help: 'Ledger rows deleted by retention (ledgerRetention.days), by table.',
    labelNames: ['table'],
    registers: [registry],
  });
}
