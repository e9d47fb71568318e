import { Counter, type Registry } from 'prom-client';

/** One counter per registry: a process that starts a proxy runtime twice (tests) registers it once. */
const counters = new WeakMap<Registry, Counter<'table'>>();

/** `hashrelay_ledger_pruned_rows_total{table}`: rows retention deleted, by table (shares, jobs, reject_summaries). */
export function prunedRowsCounter(registry: Registry): Counter<'table'> {
  let counter = counters.get(registry);
  if (counter === undefined) {
    counter = new Counter({
      name: 'hashrelay_ledger_pruned_rows_total',
      help: 'Ledger rows deleted by retention (ledgerRetention.days), by table.',
      labelNames: ['table'],
      registers: [registry],
    });
    counters.set(registry, counter);
  }
  return counter;
}
