import { randomBytes } from 'node:crypto';
import type { KeyringPair } from '@polkadot/keyring/types';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, test } from 'vitest';
import { signAuthorize } from '../src/chain/authorize-proof.js';
import { parseValidatorConfig } from '../src/config/validator-config.js';
import { ValidatorAdmission, type AdmissionPolicy } from '../validator/admission.js';
import { addressKey, VerificationBudget } from '../validator/verification-budget.js';
import { devKeys } from './support/keys.js';

const NOW = 1_795_000_000;

let validator: KeyringPair;
let minerA: KeyringPair;
let minerB: KeyringPair;
beforeAll(async () => {
  [validator, minerA, minerB] = (await devKeys('BudgetValidator', 'BudgetMinerA', 'BudgetMinerB')) as [
    KeyringPair,
    KeyringPair,
    KeyringPair,
  ];
});

/** A clock the test moves by hand, in milliseconds. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let at = 0;
  return {
    now: () => at,
    advance: (ms) => {
      at += ms;
    },
  };
}

describe('verification budget', () => {
  test('per address: the burst, then the rate; another address has its own', () => {
    const clock = manualClock();
    const budget = new VerificationBudget(
      { perAddressPerSecond: 2, perAddressBurst: 3, perSecond: 100, burst: 100 },
      clock.now,
    );
    const takes = (address: string, n: number) => Array.from({ length: n }, () => budget.take(address));
    expect(takes('203.0.113.7', 4)).toEqual(['granted', 'granted', 'granted', 'address-exhausted']);
    expect(budget.take('203.0.113.8')).toBe('granted');
    clock.advance(499);
    expect(budget.take('203.0.113.7')).toBe('address-exhausted');
    clock.advance(1);
    expect(takes('203.0.113.7', 2)).toEqual(['granted', 'address-exhausted']);
    // Idle long enough, the bucket is full again, never fuller.
    clock.advance(60_000);
    expect(takes('203.0.113.7', 4)).toEqual(['granted', 'granted', 'granted', 'address-exhausted']);
  });

  test('the global cap refuses every address once spent, and an address refused by its own bucket spends none of it', () => {
    const clock = manualClock();
    const budget = new VerificationBudget(
      { perAddressPerSecond: 1, perAddressBurst: 2, perSecond: 10, burst: 4 },
      clock.now,
    );
    expect([1, 2, 3].map(() => budget.take('198.51.100.1'))).toEqual([
      'granted',
      'granted',
      'address-exhausted',
    ]);
    expect(budget.take('198.51.100.2')).toBe('granted');
    expect(budget.take('198.51.100.3')).toBe('granted');
    expect(budget.take('198.51.100.4')).toBe('global-exhausted');
    clock.advance(100);
    expect(budget.take('198.51.100.4')).toBe('granted');
  });

  test('an IPv6 /64 is one address; IPv4-mapped IPv6 is the IPv4 address', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe(addressKey('2001:0db8:0001:0002:ffff:1:2:3'));
    expect(addressKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:3::1')).not.toBe(addressKey('2001:db8:1:2::1'));
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::ffff:192.0.2.9')).toBe('192.0.2.9');
    expect(addressKey('192.0.2.9')).toBe('192.0.2.9');
    const clock = manualClock();
    const budget = new VerificationBudget(
      { perAddressPerSecond: 1, perAddressBurst: 1, perSecond: 100, burst: 100 },
      clock.now,
    );
    expect(budget.take('2001:db8:1:2::1')).toBe('granted');
    expect(budget.take('2001:db8:1:2::9999')).toBe('address-exhausted');
  });

  test('idle addresses are forgotten, so the table stays bounded under address churn', () => {
    const clock = manualClock();
    const budget = new VerificationBudget(
      { perAddressPerSecond: 1, perAddressBurst: 1, perSecond: 1e9, burst: 1e9 },
      clock.now,
    );
    for (let i = 0; i < 5000; i++) {
      expect(budget.take(`10.0.${i >> 8}.${i & 255}`)).toBe('granted');
      clock.advance(1);
    }
    // At one new address per ms and a full bucket after 1 s, about a thousand are live at a time.
    expect(budget.addressCount).toBeLessThanOrEqual(3000);
  });

  test('a budget that is not positive is refused with the key named', () => {
    expect(() => new VerificationBudget({ perAddressBurst: 0 })).toThrow(
      /perAddressBurst 0 must be a positive/,
    );
  });

  test('config: defaults, and the keys an operator sets', () => {
    const proxy = { listen: ['127.0.0.1:3333'], upstreams: ['stratum+tcp://v.acct:x@127.0.0.1:3334'] };
    const base = { chain: 'ws://127.0.0.1:9944', netuid: 1, hotkey: { file: '/x' }, proxy };
    expect(parseValidatorConfig(base).admission.verifications).toEqual({
      perAddressPerSecond: 2,
      perAddressBurst: 8,
      perSecond: 500,
      burst: 1000,
    });
    expect(parseValidatorConfig(base).proxy.limits.maxFailedAuthorizes).toBe(3);
    const set = parseValidatorConfig({
      ...base,
      admission: { verifications: { perAddressPerSecond: 5 } },
      proxy: { ...proxy, limits: { maxFailedAuthorizes: 5 } },
    });
    expect(set.admission.verifications.perAddressPerSecond).toBe(5);
    expect(set.admission.verifications.burst).toBe(1000);
    expect(set.proxy.limits.maxFailedAuthorizes).toBe(5);
    expect(() => parseValidatorConfig({ ...base, admission: { verifications: { perSecond: 0 } } })).toThrow(
      /admission\.verifications\.perSecond/,
    );
  });
});

describe('admission: what is refused before any signature verification', () => {
  function admission(
    unregistered: AdmissionPolicy,
    budget = { perAddressPerSecond: 1, perAddressBurst: 2, perSecond: 100, burst: 100 },
  ) {
    const registry = new Registry();
    const clock = manualClock();
    const subject = new ValidatorAdmission({
      validatorHotkey: validator.address,
      registered: [minerA.address],
      unregistered,
      logger: pino({ level: 'silent' }),
      registry,
      verifications: budget,
      now: () => NOW,
      clock: clock.now,
    });
    const value = async (name: string, result: string): Promise<number> =>
      (await registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.result === result)?.value ??
      Number.NaN;
    const verified = async () =>
      (await value('hashrelay_validator_signature_verifications_total', 'valid')) +
      (await value('hashrelay_validator_signature_verifications_total', 'invalid'));
    const admissions = (result: string) => value('hashrelay_validator_admissions_total', result);
    return { subject, clock, verified, admissions };
  }
  const forgedSignature = () => `0x${randomBytes(64).toString('hex')}`;

  test('malformed, stale, not SS58, unregistered (when refused), and a signature live elsewhere cost no verification', async () => {
    const { subject, verified, admissions } = admission('reject');
    const honest = signAuthorize(minerA, validator.address, NOW);
    expect((await subject.authorize(honest.username, honest.password, 1, '192.0.2.1')).ok).toBe(true);
    expect(await verified()).toBe(1);

    const attacker = '192.0.2.66';
    const refusals = [
      [minerA.address, `t=${NOW},sig=0x1234`, /password must be t=<unix seconds>,sig=0x<128 hex>/],
      [minerA.address, `t=${NOW - 301},sig=${forgedSignature()}`, /301 s from the validator's clock/],
      ['farm.rig1', `t=${NOW},sig=${forgedSignature()}`, /'farm' is not an SS58 hotkey/],
      [minerB.address, `t=${NOW},sig=${forgedSignature()}`, /not registered on this subnet/],
      [`${minerA.address}.other`, honest.password, /in use on another live connection/],
    ] as const;
    for (const [username, password, message] of refusals) {
      const verdict = await subject.authorize(username, password, 2, attacker);
      expect(!verdict.ok && verdict.message).toMatch(message);
    }
    expect(await verified()).toBe(1);
    expect(await admissions('rejected_over_budget')).toBe(0);
  });

  test('with unregistered: forward, an unregistered hotkey is verified (it may be admitted) but within the budget', async () => {
    const { subject, clock, verified, admissions } = admission('forward');
    const attacker = '192.0.2.66';
    const forged = () => subject.authorize(minerB.address, `t=${NOW},sig=${forgedSignature()}`, 3, attacker);
    for (let i = 0; i < 2; i++) expect(await forged()).toMatchObject({ message: /does not verify/ });
    expect(await forged()).toEqual({
      ok: false,
      message: 'too many authorize attempts from this address; retry later',
    });
    expect(await verified()).toBe(2);
    // Another address is not held up by the first; a signed miner there is admitted.
    const signed = signAuthorize(minerB, validator.address, NOW);
    expect(await subject.authorize(signed.username, signed.password, 4, '192.0.2.1')).toEqual({
      ok: true,
      identity: minerB.address,
    });
    clock.advance(1000);
    expect(await forged()).toMatchObject({ message: /does not verify/ });
    expect(await verified()).toBe(4);
    expect(await admissions('rejected_over_budget')).toBe(1);
  });

  test('over the global cap, authorizes are refused as busy without verification', async () => {
    const { subject, verified, admissions } = admission('forward', {
      perAddressPerSecond: 10,
      perAddressBurst: 10,
      perSecond: 1,
      burst: 2,
    });
    for (const address of ['192.0.2.1', '192.0.2.2'])
      await subject.authorize(minerB.address, `t=${NOW},sig=${forgedSignature()}`, 5, address);
    const signed = signAuthorize(minerA, validator.address, NOW);
    expect(await subject.authorize(signed.username, signed.password, 6, '192.0.2.3')).toEqual({
      ok: false,
      message: 'the validator is verifying too many authorizes now; retry in a few seconds',
    });
    expect(await verified()).toBe(2);
    expect(await admissions('rejected_busy')).toBe(1);
  });
});
