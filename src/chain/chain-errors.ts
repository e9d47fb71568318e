import type { DispatchError } from '@polkadot/types/interfaces';
import type { Registry } from '@polkadot/types/types';
import { ChainError, chainError } from './chain.js';

/**
 * A failed extrinsic's `DispatchError` decoded to the runtime's own error name
 * (`SettingWeightsTooFast`, `CommitRevealEnabled`, ...) with its doc line.
 */
export function dispatchChainError(registry: Registry, error: DispatchError, call: string): ChainError {
  if (error.isModule) {
    const meta = registry.findMetaError(error.asModule);
    const docs = meta.docs.join(' ').trim();
    return chainError(meta.name, `${call} failed in ${meta.section}${docs === '' ? '' : `: ${docs}`}`);
  }
  if (error.isToken) return chainError(`Token${error.asToken.type}`, `${call} failed: token error`);
  if (error.isArithmetic) return chainError(`Arithmetic${error.asArithmetic.type}`, `${call} failed`);
  if (error.isTransactional)
    return chainError(`Transactional${error.asTransactional.type}`, `${call} failed`);
  return chainError(error.type, `${call} failed: ${error.toString()}`);
}

/**
 * Subtensor's `CustomTransactionError` codes (common/src/transaction_error.rs), returned when its
 * transaction extension rejects a call before it enters the pool.
 */
const SUBTENSOR_CUSTOM_ERRORS: Readonly<Record<number, string>> = {
  0: 'ColdkeyInSwapSchedule',
  1: 'StakeAmountTooLow',
  2: 'BalanceTooLow',
  3: 'SubnetNotExists',
  4: 'HotkeyAccountDoesntExist',
  5: 'NotEnoughStakeToWithdraw',
  6: 'RateLimitExceeded',
  7: 'InsufficientLiquidity',
  8: 'SlippageTooHigh',
  9: 'TransferDisallowed',
  10: 'HotKeyNotRegisteredInNetwork',
  11: 'InvalidIpAddress',
  12: 'ServingRateLimitExceeded',
  13: 'InvalidPort',
  14: 'ZeroMaxAmount',
  15: 'InvalidRevealRound',
  16: 'CommitNotFound',
  17: 'CommitBlockNotInRevealRange',
  18: 'InputLengthsUnequal',
  19: 'UidNotFound',
  20: 'EvmKeyAssociateRateLimitExceeded',
  21: 'ColdkeySwapDisputed',
  22: 'InvalidRealAccount',
  23: 'FailedShieldedTxParsing',
  24: 'InvalidShieldedTxPubKeyHash',
  25: 'NonAssociatedColdKey',
  26: 'DelegateTakeTooLow',
  27: 'DelegateTakeTooHigh',
  255: 'BadRequest',
};

/**
 * What the codes mean for weight calls, which mainnet pre-checks in the pool
 * (`SubtensorTransactionExtension` → `CheckWeights`, `CheckRateLimits`) instead of failing them
 * at dispatch under their dispatch names.
 */
const WEIGHT_CALL_MEANINGS: Readonly<Record<string, string>> = {
  StakeAmountTooLow:
    "the hotkey's stake on the subnet is below StakeThreshold (NotEnoughStakeToSetWeights; an unregistered hotkey usually has none)",
  RateLimitExceeded:
    'weights were set or committed too recently (SettingWeightsTooFast / CommittingWeightsTooFast)',
  InvalidRevealRound: 'the timelock reveal round is below Drand.LastStoredRound',
  CommitNotFound: 'no pending commit matches this reveal (NoWeightsCommitFound)',
  CommitBlockNotInRevealRange:
    "it is not the commit's reveal epoch (RevealTooEarly: too early, or expired when too late)",
  UidNotFound: 'the hotkey has no uid on the subnet (HotKeyNotRegisteredInSubNet)',
};

/** Pool rejections a later attempt of the same call can get past. */
const RETRYABLE_POOL_ERRORS: ReadonlySet<string> = new Set([
  // Too early for the reveal window (the same reveal passes a few blocks later); too late is
  // told apart by the caller from the chain's epoch schedule.
  'CommitBlockNotInRevealRange',
  'Priority',
  'Stale',
  'Future',
  'TemporarilyBanned',
  'ExhaustsResources',
  'RateLimitExceeded',
  'ServingRateLimitExceeded',
  'Disconnected',
]);

const POOL_PATTERNS: readonly (readonly [RegExp, string])[] = [
  [/priority is too low/i, 'Priority'],
  [/outdated|\bstale\b/i, 'Stale'],
  [/in the future|\bfuture\b/i, 'Future'],
  [/temporarily banned/i, 'TemporarilyBanned'],
  [/bad signature/i, 'BadProof'],
  [/inability to pay|payment/i, 'Payment'],
  [/exhausts the resources|exhausts resources/i, 'ExhaustsResources'],
  [/already imported/i, 'AlreadyImported'],
  [/bad origin|badorigin/i, 'BadOrigin'],
  [/not connected|disconnected|abnormal closure|socket/i, 'Disconnected'],
];

/**
 * A transaction-pool rejection (`author_submitAndWatch` RPC error such as "1014: Priority is too
 * low", "1010: Invalid Transaction: Custom error: 6") or a pool status (`Invalid`, `Dropped`,
 * `Usurped`) as a named chain error.
 */
export function poolChainError(message: string, call: string): ChainError {
  const custom = /custom error:?\s*(\d+)/i.exec(message);
  let name: string | undefined;
  if (custom !== null) name = SUBTENSOR_CUSTOM_ERRORS[Number(custom[1])] ?? `Custom${custom[1]!}`;
  name ??= POOL_PATTERNS.find(([pattern]) => pattern.test(message))?.[1];
  name ??= 'InvalidTransaction';
  const meaning = custom === null ? undefined : WEIGHT_CALL_MEANINGS[name];
  return new ChainError(
    name,
    `${call} rejected by the transaction pool: ${message}${meaning === undefined ? '' : ` (${meaning})`}`,
    RETRYABLE_POOL_ERRORS.has(name),
  );
}
