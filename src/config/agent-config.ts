import { z } from 'zod';
import { chainEndpoint, configError, hotkeySource, inProxySection, netuid } from './chain-config.js';
import { ConfigError, parseProxyConfig, type ProxyConfig } from './proxy-config.js';

/**
 * `hashrelay miner-agent`: the farm proxy plus the control loop that keeps its validators and
 * weights current from chain. One schema; flags and the config file feed it.
 */
export const agentConfigSchema = z
  .object({
    chain: chainEndpoint,
    netuid,
    hotkey: hotkeySource,
    /** Appended to the hotkey in the username sent to validators: `<hotkey>.<worker>`. */
    worker: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,32}$/, '1-32 of A-Z a-z 0-9 _ -')
      .optional(),
    /** Re-read the metagraph and endpoints every this many blocks (12 s each on mainnet). */
    intervalBlocks: z.number().int().positive().default(25),
    /** A validator endpoint that gives no Stratum answer this quickly is skipped until the next read. */
    probeTimeoutSeconds: z.number().positive().default(5),
    filters: z
      .object({
        requirePermit: z.boolean().default(true),
        /** Least total stake, in TAO-equivalent units (the chain's value / 1e9). */
        minStake: z.number().min(0).default(0),
        /** Validator hotkeys never to work for. */
        blacklist: z.array(z.string()).default([]),
        /** Keep only the largest stakes (0: all). */
        maxValidators: z.number().int().min(0).default(0),
      })
      .strict()
      .default({ requirePermit: true, minStake: 0, blacklist: [], maxValidators: 0 }),
    /** The farm proxy: the same keys as `hashrelay proxy`'s config, upstreams excepted. */
    proxy: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export type AgentConfig = Omit<z.output<typeof agentConfigSchema>, 'proxy'> & { readonly proxy: ProxyConfig };

export function parseAgentConfig(raw: unknown): AgentConfig {
  const parsed = agentConfigSchema.safeParse(raw);
  if (!parsed.success) throw configError(parsed.error);
  const { proxy: rawProxy, ...agent } = parsed.data;
  if (rawProxy.upstreams !== undefined)
    throw new ConfigError(
      'invalid configuration:\n  proxy.upstreams: the miner-agent takes validators from chain; for fixed pools run `hashrelay proxy` with routing.mode weighted',
    );
  const routing = { mode: 'weighted', ...(rawProxy.routing as Record<string, unknown> | undefined) };
  if (routing.mode !== 'weighted')
    throw new ConfigError(
      'invalid configuration:\n  proxy.routing.mode: the miner-agent splits by stake: weighted only',
    );
  let proxy: ProxyConfig;
  try {
    proxy = parseProxyConfig({ ...rawProxy, routing, upstreams: [] }, { upstreamsFromAgent: true });
  } catch (error) {
    if (error instanceof ConfigError) throw inProxySection(error);
    throw error;
  }
  return { ...agent, proxy };
}

/** TAO-equivalent units (as operators write them) to the chain's smallest unit. */
export function toRao(units: number): bigint {
  return BigInt(Math.round(units * 1e9));
}
