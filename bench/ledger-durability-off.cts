/**
 * Measurement only, never shipped: preloaded with `node --require` by the answer-latency bench
 * into a proxy it starts, this turns every SQLite connection's `synchronous` setting to OFF (no
 * fsync before an answer), so the bench can say what the durable commit itself costs. A
 * CommonJS preload because `--require` also runs in the ledger's worker threads, where the
 * writer opens its connection; no config key or environment variable of hashrelay does this.
 */
// A CommonJS module (for --require) takes its imports with require under verbatimModuleSyntax.
// eslint-disable-next-line @typescript-eslint/no-require-imports
import Database = require('better-sqlite3');

// Called with the connection's own `this` below.
// eslint-disable-next-line @typescript-eslint/unbound-method
const pragma = Database.prototype.pragma;
Database.prototype.pragma = function (
  this: Database.Database,
  source: string,
  options?: Database.PragmaOptions,
) {
  return pragma.call(this, /^\s*synchronous\s*=/i.test(source) ? 'synchronous = OFF' : source, options);
};
