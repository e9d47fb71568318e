import type { ProxyConfig } from './proxy-config.js';

/** A key a reload left as it was, and why. */
export interface RefusedChange {
  readonly key: string;
  readonly reason: string;
}

/** What a reload does: the configuration to run with, the keys it changes, the keys it cannot. */
export interface ReloadPlan {
  readonly config: ProxyConfig;
  readonly applied: readonly string[];
  readonly refused: readonly RefusedChange[];
}

/**
 * Keys fixed while the process runs, and why: everything else (upstreams and weights, limits,
 * vardiff, upstream timings, reject budgets, label caps) applies live.
 */
const RESTART_ONLY: Readonly<Record<string, string>> = {
  listen: 'listeners are bound at start',
  ledger: 'the ledger is opened at start',
  metrics: 'the admin listener is bound at start',
  adminTokenFile: 'the admin token is read at start',
  admin: 'the admin listener takes admin.publicStatus at start',
  logLevel: 'loggers take their level at start',
  extranonce: "connected miners' extranonce slots are fixed",
  routing: 'the routing mode and its scheduler are built at start',
  'upstream.jobsKept': 'jobs kept per session are fixed when sessions open',
  'limits.rejectBudget.summarySeconds': 'the reject summary timer is set at start',
};

/**
 * Compares the running configuration with a newly loaded one: the result runs with every
 * change that can apply live and keeps the running value of each key that needs a restart
 * (reported, so the operator knows the file and the process differ until then).
 */
export function planReload(running: ProxyConfig, next: ProxyConfig): ReloadPlan {
  const applied: string[] = [];
  const refused: RefusedChange[] = [];
  for (const key of changedKeys(running, next, '')) {
    const fixed = Object.keys(RESTART_ONLY).find((prefix) => key === prefix || key.startsWith(`${prefix}.`));
    if (fixed === undefined) applied.push(key);
    else refused.push({ key, reason: `${RESTART_ONLY[fixed]!}: restart to change it` });
  }
  let config = next;
  for (const { key } of refused)
    config = withValueAt(config, key.split('.'), valueAt(running, key.split('.')));
  return { config, applied, refused };
}

type Tree = Readonly<Record<string, unknown>>;

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Dotted paths of the leaves that differ; lists (listen, upstreams) compare whole. */
function changedKeys(running: unknown, next: unknown, path: string): string[] {
  if (isTree(running) && isTree(next)) {
    const keys = new Set([...Object.keys(running), ...Object.keys(next)]);
    return [...keys].flatMap((key) =>
      changedKeys(running[key], next[key], path === '' ? key : `${path}.${key}`),
    );
  }
  return JSON.stringify(running) === JSON.stringify(next) ? [] : [path];
}

function valueAt(tree: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((node, key) => (isTree(node) ? node[key] : undefined), tree);
}

function withValueAt<T>(tree: T, path: readonly string[], value: unknown): T {
  const [head, ...rest] = path;
  if (head === undefined) return value as T;
  const node: Tree = isTree(tree) ? tree : {};
  return { ...node, [head]: withValueAt(node[head], rest, value) } as T;
}
