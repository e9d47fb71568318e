import { z } from 'zod';
import { parseEndpointCommitment, type ValidatorEndpoint } from '../chain/endpoint-commitment.js';
import { chainEndpoint, configError, hotkeySource, inProxySection, netuid } from './chain-config.js';
import { DAY_MS } from '../ledger/retention.js';
import { ConfigError, parseProxyConfig, type ProxyConfig } from './proxy-config.js';

/**
 * `hashrelay validator`: the proxy engine in the validator role (farms downstream, the
 * validator's own pool accounts upstream with failover), admission of signed miners, endpoint
 * publication and weight posting. One schema; flags and the config file feed it.
 */
const policy = z.enum(['reject', 'forward']);

/**
 * sr25519 verifications of signed authorizes, each about 0.25 ms of the main thread (issue 10):
 * per source address (an IPv6 /64 counts as one) a steady rate and a burst above it, and from
 * all addresses together, which keeps the event loop for the miners already admitted.
 */
export const DEFAULT_VERIFICATION_BUDGET = {
  perAddressPerSecond: 2,
  perAddressBurst: 8,
  perSecond: 500,
  burst: 1000,
} as const;
const verifications = z
  .object({
    perAddressPerSecond: z.number().positive().default(DEFAULT_VERIFICATION_BUDGET.perAddressPerSecond),
    perAddressBurst: z.number().positive().default(DEFAULT_VERIFICATION_BUDGET.perAddressBurst),
    perSecond: z.number().positive().default(DEFAULT_VERIFICATION_BUDGET.perSecond),
    burst: z.number().positive().default(DEFAULT_VERIFICATION_BUDGET.burst),
  })
  .strict()
  .default(DEFAULT_VERIFICATION_BUDGET);

export const validatorConfigSchema = z
  .object({
    chain: chainEndpoint,
    netuid,
    hotkey: hotkeySource,
    /**
     * The Stratum URL farms dial (stratum+tcp://PUBLIC-HOST:PORT), published on chain as this
     * hotkey's commitment when it differs from what is there. Omit to publish nothing.
     */
    publicEndpoint: z
      .string()
      .transform((text, ctx): ValidatorEndpoint => {
        try {
          return parseEndpointCommitment(text);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
          return z.NEVER;
        }
      })
      .optional(),
    admission: z
      .object({
        /** Accepted clock difference of a signed authorize. */
        windowSeconds: z.number().int().positive().default(300),
        /** Miners with no signature: refused, or forwarded and credited to a marked identity that earns nothing. */
        unsigned: policy.default('reject'),
        /**
         * Signed, but the hotkey is not registered on the subnet. Refused by default: such keys
         * cost nothing to make, and forwarding them lets anyone write to this ledger and mine on
         * this validator's pool accounts. `forward` credits them to their hotkey (earning no
         * weight), each connection still under `proxy.limits.rejectBudget`.
         */
        unregistered: policy.default('reject'),
        /** Re-read the registered hotkeys every this many blocks. */
        refreshBlocks: z.number().int().positive().default(10),
        /** Signature verifications allowed; over budget is refused unverified ("retry later"). */
        verifications,
      })
      .strict()
      .default({
        windowSeconds: 300,
        unsigned: 'reject',
        unregistered: 'reject',
        refreshBlocks: 10,
        verifications: DEFAULT_VERIFICATION_BUDGET,
      }),
    weights: z
      .object({
        /** Pending commit-reveal commits (with their salts) survive restarts here. */
        stateDir: z.string().default('./hashrelay-validator-state'),
        /** Log (and print) the vector instead of posting it. */
        dryRun: z.boolean().default(false),
        /** Post at most every this many blocks (default: the subnet's tempo). */
        intervalBlocks: z.number().int().positive().optional(),
        /** A version_key above the chain's WeightsVersionKey (default: the chain's). */
        versionKey: z.number().int().min(0).optional(),
        /**
         * Under commit-reveal: `auto` sends drand-timelocked commits where the runtime has
         * commit_timelocked_weights (mainnet; the chain reveals them itself) and hash commits
         * elsewhere; `hash` or `timelocked` forces one.
         */
        commitMode: z.enum(['auto', 'hash', 'timelocked']).default('auto'),
      })
      .strict()
      .default({ stateDir: './hashrelay-validator-state', dryRun: false, commitMode: 'auto' }),
    /** The validator proxy: the same keys as `hashrelay proxy`'s config (upstreams: your pool accounts). */
    proxy: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export type ValidatorConfig = Omit<z.output<typeof validatorConfigSchema>, 'proxy'> & {
  readonly proxy: ProxyConfig;
};

export function parseValidatorConfig(raw: unknown): ValidatorConfig {
  const parsed = validatorConfigSchema.safeParse(raw);
  if (!parsed.success) throw configError(parsed.error);
  const { proxy: rawProxy, ...validator } = parsed.data;
  if ((rawProxy.routing as { mode?: unknown } | undefined)?.mode === 'weighted')
    throw new ConfigError(
      'invalid configuration:\n  proxy.routing.mode: a validator fails over between its own pool accounts: failover only',
    );
  // Downstream are farm proxies, which need room for their own 2-byte slots plus 4 bytes per
  // ASIC: give each 6 bytes of extranonce2 (so the pool must give 8: our 2-byte slot + 6).
  const extranonce = {
    minerExtranonce2Size: 6,
    ...(rawProxy.extranonce as Record<string, unknown> | undefined),
  };
  let proxy: ProxyConfig;
  try {
    proxy = parseProxyConfig({ ...rawProxy, extranonce });
  } catch (error) {
    if (error instanceof ConfigError) throw inProxySection(error);
    throw error;
  }
  checkRetentionCoversScoring(proxy.ledgerRetention.days, validator.weights.intervalBlocks);
  return { ...validator, proxy };
}

/**
 * The weight poster scores up to two posting intervals of work (WeightPoster's maxWindowBlocks):
 * a retention must keep at least that, or a late post would score a window already deleted.
 */
/** Bittensor's block time, as the validator's BlockClock assumes (validator/scoring.ts). */
const BLOCK_MS = 12_000;

function checkRetentionCoversScoring(days: number, intervalBlocks: number | undefined): void {
  if (days === 0 || intervalBlocks === undefined) return;
  const windowDays = (2 * intervalBlocks * BLOCK_MS) / DAY_MS;
  if (days < windowDays) {
    throw new ConfigError(
      `invalid configuration:\n  proxy.ledgerRetention.days: ${days} days is shorter than the ${windowDays.toFixed(2)} ` +
        `days a post may score (2 × weights.intervalBlocks ${intervalBlocks} × 12 s); keep at least that, or 0 to keep everything`,
    );
  }
}
