/** Flags the chain-facing roles (miner-agent, validator) share, and how they fold into the config file. */
export const CHAIN_ROLE_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  config: { type: 'string' },
  chain: { type: 'string' },
  netuid: { type: 'string' },
  'hotkey-file': { type: 'string' },
  listen: { type: 'string', multiple: true },
  ledger: { type: 'string' },
  metrics: { type: 'string' },
  'log-level': { type: 'string' },
} as const;

export interface ChainRoleFlags {
  readonly chain?: string | undefined;
  readonly netuid?: string | undefined;
  readonly 'hotkey-file'?: string | undefined;
  readonly listen?: string[] | undefined;
  readonly ledger?: string | undefined;
  readonly metrics?: string | undefined;
  readonly 'log-level'?: string | undefined;
}

/** Flags override the file: top-level chain keys, and the embedded proxy section. */
export function applyChainRoleFlags(
  raw: Record<string, unknown>,
  values: ChainRoleFlags,
): Record<string, unknown> {
  const proxy = { ...((raw.proxy ?? {}) as Record<string, unknown>) };
  const merged: Record<string, unknown> = { ...raw, proxy };
  if (values.chain !== undefined) merged.chain = values.chain;
  if (values.netuid !== undefined) merged.netuid = Number(values.netuid);
  if (values['hotkey-file'] !== undefined)
    merged.hotkey = { ...(raw.hotkey ?? {}), file: values['hotkey-file'] };
  if (values.listen !== undefined) proxy.listen = values.listen;
  if (values.ledger !== undefined) proxy.ledger = values.ledger;
  if (values.metrics !== undefined) proxy.metrics = values.metrics;
  if (values['log-level'] !== undefined) proxy.logLevel = values['log-level'];
  return merged;
}
