import { cryptoWaitReady, decodeAddress, encodeAddress } from '@polkadot/util-crypto';
import { Counter, Registry } from 'prom-client';
import type { Logger } from '../src/log/logger.js';
import {
  claimSignatureVerifies,
  parseAuthorizeClaim,
  type AuthorizeClaim,
} from '../src/chain/authorize-proof.js';
import type { Hotkey } from '../src/chain/hotkey.js';
import type { Admission } from '../proxy/proxy.js';
import type { AdmissionVerdict } from '../proxy/miner-connection.js';
import { VerificationBudget, type VerificationBudgetOptions } from './verification-budget.js';

/**
 * Admission to a validator proxy (ARCHITECTURE.md, Trust): a farm proves the hotkey it mines
 * for with a signed `mining.authorize` addressed to this validator, and its work is credited
 * to that hotkey only if the signature verifies, is recent, is not in use on another live
 * connection, and the hotkey is registered on the subnet.
 *
 * Policy: unsigned authorizes and unregistered hotkeys are refused by default, or, with
 * `forward`, admitted. An unsigned one is credited to a marked identity (`unverified:…`) that
 * contains a ':' and so can never equal an SS58 hotkey: the pool still gets the work, the
 * ledger keeps it, and scoring gives it no weight. A signed but unregistered hotkey is
 * credited to itself — the signature proves it — and scoring, which reads the metagraph when it
 * posts, gives it weight only if it is registered by then: a farm that registers after it
 * connected is not left uncredited until it reconnects. A password that carries a signature which
 * fails (forged, made for another validator, stale, or replayed on a second live connection)
 * is always refused whatever the policy: crediting it anywhere would hide a farm's
 * misconfiguration (wrong validator hotkey, skewed clock) behind silently worthless work, and
 * the refusal message tells its operator what to fix.
 *
 * Cost (issue 10): an sr25519 verification is the one expensive step, so every check that can
 * refuse without it runs first (form, time window, SS58, registration when unregistered keys are
 * refused, a signature live elsewhere), and verifications are budgeted per source address and
 * in all: over budget is refused unverified, and the connection counts it as a failure.
 */

export type AdmissionPolicy = 'reject' | 'forward';

export const UNVERIFIED_PREFIX = 'unverified:';
/** Longest account part kept in an `unverified:` identity. */
export const MAX_UNVERIFIED_NAME = 64;

/** Every value the `result` label takes; all are created at zero so dashboards see them. */
export const ADMISSION_RESULTS = [
  'accepted',
  'forwarded_unsigned',
  'forwarded_unregistered',
  'rejected_unsigned',
  'rejected_unregistered',
  'rejected_bad_signature',
  'rejected_stale',
  'rejected_replay',
  'rejected_closed',
  'rejected_over_budget',
  'rejected_busy',
] as const;
export type AdmissionResult = (typeof ADMISSION_RESULTS)[number];

/** True for an identity admission credits but scoring must never weight. */
export function isMarkedIdentity(identity: string): boolean {
  return identity.includes(':');
}

/** `hashrelay_validator_admissions_total{result}` on `registry`. */
export function admissionCounter(registry: Registry): Counter<'result'> {
  const counter = new Counter({
    name: 'hashrelay_validator_admissions_total',
    help: 'Signed-authorize decisions of the validator proxy, by result.',
    labelNames: ['result'],
    registers: [registry],
  });
  for (const result of ADMISSION_RESULTS) counter.inc({ result }, 0);
  return counter;
}

/** Every value the `result` label of the verification counter takes. */
export const VERIFICATION_RESULTS = ['valid', 'invalid'] as const;

/** `hashrelay_validator_signature_verifications_total{result}` on `registry`. */
export function verificationCounter(registry: Registry): Counter<'result'> {
  const counter = new Counter({
    name: 'hashrelay_validator_signature_verifications_total',
    help: 'sr25519 verifications of signed authorizes (each costs main-thread time), by outcome.',
    labelNames: ['result'],
    registers: [registry],
  });
  for (const result of VERIFICATION_RESULTS) counter.inc({ result }, 0);
  return counter;
}

export interface ValidatorAdmissionOptions {
  /** This validator's hotkey: signatures must be addressed to it. */
  readonly validatorHotkey: string;
  /** Hotkeys registered on the subnet now (refresh with `updateRegistered`). */
  readonly registered: Iterable<string>;
  readonly logger: Logger;
  /** Accepted clock difference between farm and validator, seconds. Default 300. */
  readonly windowSeconds?: number;
  /** An authorize without `sig=`. Default `reject`. */
  readonly unsigned?: AdmissionPolicy;
  /** A verified hotkey that is not registered on the subnet. Default `reject`. */
  readonly unregistered?: AdmissionPolicy;
  /** The decisions counter; otherwise one is made on `registry` (or on a private registry). */
  readonly counter?: Counter<'result'>;
  readonly registry?: Registry;
  /** Signature verifications allowed per source address and in all (defaults: the validator config's). */
  readonly verifications?: Partial<VerificationBudgetOptions>;
  /** Unix seconds; a parameter for tests. */
  readonly now?: () => number;
  /** Milliseconds, monotonic, for the verification budget; a parameter for tests. */
  readonly clock?: () => number;
}

export class ValidatorAdmission implements Admission {
  readonly counter: Counter<'result'>;
  readonly verifications: Counter<'result'>;
  private readonly budget: VerificationBudget;
  private readonly validatorHotkey: Hotkey;
  private readonly windowSeconds: number;
  private readonly unsignedPolicy: AdmissionPolicy;
  private readonly unregisteredPolicy: AdmissionPolicy;
  private readonly log: Logger;
  private readonly now: () => number;
  private registered = new Set<Hotkey>();
  /** Signature → the live connection using it. */
  private readonly liveSignatures = new Map<string, number>();
  /** Connection → the signatures it holds; the Set's identity marks one connection's lifetime. */
  private readonly byConnection = new Map<number, Set<string>>();

  constructor(options: ValidatorAdmissionOptions) {
    this.validatorHotkey = toHotkey(options.validatorHotkey, 'validatorHotkey');
    this.windowSeconds = options.windowSeconds ?? 300;
    if (!(this.windowSeconds >= 0) || !Number.isFinite(this.windowSeconds)) {
      throw new RangeError(`windowSeconds ${this.windowSeconds} must be a non-negative number of seconds`);
    }
    this.unsignedPolicy = options.unsigned ?? 'reject';
    this.unregisteredPolicy = options.unregistered ?? 'reject';
    this.log = options.logger;
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
    const registry = options.registry ?? new Registry();
    this.counter = options.counter ?? admissionCounter(registry);
    this.verifications = verificationCounter(registry);
    this.budget = new VerificationBudget(options.verifications, options.clock);
    this.updateRegistered(options.registered);
  }

  /** Replaces the registered set (from a fresh metagraph); live connections keep their identity. */
  updateRegistered(hotkeys: Iterable<string>): void {
    const next = new Set<Hotkey>();
    for (const hotkey of hotkeys) next.add(toHotkey(hotkey, 'registered hotkey'));
    this.registered = next;
  }

  /** Signatures currently held by live connections. */
  get liveSignatureCount(): number {
    return this.liveSignatures.size;
  }

  /** `remoteAddress`: the connection's source IP, for its verification budget. */
  async authorize(
    username: string,
    password: string,
    connectionId: number,
    remoteAddress = 'unknown',
  ): Promise<AdmissionVerdict> {
    let held = this.byConnection.get(connectionId);
    if (held === undefined) {
      held = new Set();
      this.byConnection.set(connectionId, held);
    }
    const fields = passwordFields(password);
    const account = accountOf(username);
    if (!fields.has('sig')) {
      const reason = 'password carries no hotkey signature (expected t=<unix seconds>,sig=0x<hex>)';
      if (this.unsignedPolicy === 'forward') {
        const identity = UNVERIFIED_PREFIX + sanitise(account);
        return this.admit('forwarded_unsigned', connectionId, identity, { username: clip(username), reason });
      }
      return this.refuse('rejected_unsigned', connectionId, clip(username), reason);
    }
    await cryptoWaitReady();
    if (this.byConnection.get(connectionId) !== held) {
      // The connection closed meanwhile (e.g. over its failed authorizes): verify nothing for it.
      return this.refuse('rejected_closed', connectionId, clip(username), 'connection closed');
    }
    // From here to the claim nothing awaits: the checks below still hold when it is made.
    const claim = this.cheapChecks(username, password, connectionId);
    if (!('hotkey' in claim)) return claim.verdict;
    const budget = this.budget.take(remoteAddress);
    if (budget !== 'granted') {
      const [result, message] =
        budget === 'address-exhausted'
          ? (['rejected_over_budget', 'too many authorize attempts from this address; retry later'] as const)
          : ([
              'rejected_busy',
              'the validator is verifying too many authorizes now; retry in a few seconds',
            ] as const);
      return this.refuse(result, connectionId, clip(username), message, { remoteAddress });
    }
    const valid = claimSignatureVerifies(claim.claim, this.validatorHotkey);
    this.verifications.inc({ result: valid ? 'valid' : 'invalid' });
    if (!valid) {
      return this.refuse(
        'rejected_bad_signature',
        connectionId,
        clip(username),
        `signature does not verify for this hotkey and this validator (it must be signed for validator ${this.validatorHotkey})`,
        { remoteAddress },
      );
    }
    const { hotkey, claim: proven } = claim;
    if (!this.registered.has(hotkey)) {
      // Only the forward policy gets here: cheapChecks refused unregistered hotkeys otherwise.
      this.claim(proven.signature, connectionId, held);
      return this.admit('forwarded_unregistered', connectionId, hotkey, {
        hotkey,
        reason: `hotkey ${hotkey} is not registered on this subnet`,
      });
    }
    this.claim(proven.signature, connectionId, held);
    return this.admit('accepted', connectionId, hotkey, { hotkey, worker: proven.worker });
  }

  /**
   * Every refusal that needs no signature verification, cheapest first; otherwise the claim and
   * its hotkey in the metagraph's form.
   */
  private cheapChecks(
    username: string,
    password: string,
    connectionId: number,
  ): { readonly claim: AuthorizeClaim; readonly hotkey: Hotkey } | { readonly verdict: AdmissionVerdict } {
    const who = clip(username);
    const parsed = parseAuthorizeClaim(username, password);
    if (!parsed.ok) {
      return { verdict: this.refuse('rejected_bad_signature', connectionId, who, parsed.reason) };
    }
    const { claim } = parsed;
    const now = this.now();
    const skew = Math.abs(now - claim.unixSeconds);
    if (skew > this.windowSeconds) {
      return {
        verdict: this.refuse(
          'rejected_stale',
          connectionId,
          who,
          `authorize timestamp ${claim.unixSeconds} is ${skew} s from the validator's clock (${now}); ` +
            `sign with a fresh timestamp and check the farm's clock (window ±${this.windowSeconds} s)`,
        ),
      };
    }
    const hotkey = asHotkey(claim.hotkey);
    if (hotkey === undefined) {
      const reason = `username '${claim.hotkey.slice(0, 64)}' is not an SS58 hotkey`;
      return { verdict: this.refuse('rejected_bad_signature', connectionId, who, reason) };
    }
    if (this.unregisteredPolicy === 'reject' && !this.registered.has(hotkey)) {
      const reason = `hotkey ${hotkey} is not registered on this subnet; register it first`;
      return { verdict: this.refuse('rejected_unregistered', connectionId, hotkey, reason) };
    }
    const owner = this.liveSignatures.get(claim.signature);
    if (owner !== undefined && owner !== connectionId) {
      return {
        verdict: this.refuse(
          'rejected_replay',
          connectionId,
          who,
          'this signature is in use on another live connection; sign a fresh authorize for each connection',
        ),
      };
    }
    return { claim, hotkey };
  }

  release(connectionId: number): void {
    const held = this.byConnection.get(connectionId);
    if (held === undefined) return;
    this.byConnection.delete(connectionId);
    for (const signature of held) {
      if (this.liveSignatures.get(signature) === connectionId) this.liveSignatures.delete(signature);
    }
  }

  private claim(signature: string, connectionId: number, held: Set<string>): void {
    this.liveSignatures.set(signature, connectionId);
    held.add(signature);
  }

  private admit(
    result: AdmissionResult,
    connectionId: number,
    identity: string,
    fields: Record<string, unknown>,
  ): AdmissionVerdict {
    this.counter.inc({ result });
    this.log.info({ connection: connectionId, result, identity, ...fields }, 'miner admitted');
    return { ok: true, identity };
  }

  private refuse(
    result: AdmissionResult,
    connectionId: number,
    who: string,
    message: string,
    fields: Record<string, unknown> = {},
  ): AdmissionVerdict {
    this.counter.inc({ result });
    // Over-budget refusals come at the attacker's rate: the counter shows them, the log would drown.
    const level = result === 'rejected_over_budget' || result === 'rejected_busy' ? 'debug' : 'warn';
    this.log[level]({ connection: connectionId, result, who, reason: message, ...fields }, 'miner refused');
    return { ok: false, message };
  }
}

/** `key=value` pairs of a password, as parseAuthorizeClaim reads them. */
function passwordFields(password: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of password.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return fields;
}

function accountOf(username: string): string {
  const dot = username.indexOf('.');
  return dot < 0 ? username : username.slice(0, dot);
}

/** An unproven name as a bounded, printable ledger identity. */
function sanitise(name: string): string {
  const clean = name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, MAX_UNVERIFIED_NAME);
  return clean === '' ? '_' : clean;
}

/** Miner-supplied text bounded for a log line. */
function clip(text: string): string {
  return text.length > 128 ? `${text.slice(0, 128)}…` : text;
}

/** `address` in the metagraph's form, or undefined when it is not an SS58 address. */
function asHotkey(address: string): Hotkey | undefined {
  try {
    return encodeAddress(decodeAddress(address), 42) as Hotkey;
  } catch {
    return undefined;
  }
}

/** Any SS58 form → the generic-substrate (42) address the metagraph lists hotkeys in. */
function toHotkey(address: string, what: string): Hotkey {
  try {
    return encodeAddress(decodeAddress(address), 42) as Hotkey;
  } catch (error) {
    throw new RangeError(`${what} '${clip(address)}' is not an SS58 address: ${(error as Error).message}`);
  }
}
