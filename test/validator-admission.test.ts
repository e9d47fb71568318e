import type { KeyringPair } from '@polkadot/keyring/types';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, test } from 'vitest';
import { signAuthorize } from '../src/chain/authorize-proof.js';
import {
  isMarkedIdentity,
  MAX_UNVERIFIED_NAME,
  ValidatorAdmission,
  type AdmissionPolicy,
  type AdmissionResult,
} from '../validator/admission.js';
import { Keyring } from '@polkadot/keyring';
import { devKeys } from './support/keys.js';

const NOW = 1_795_000_000;

let validator: KeyringPair;
let otherValidator: KeyringPair;
let minerA: KeyringPair;
let minerB: KeyringPair;

beforeAll(async () => {
  [validator, otherValidator, minerA, minerB] = (await devKeys(
    'Validator',
    'OtherValidator',
    'MinerA',
    'MinerB',
  )) as [KeyringPair, KeyringPair, KeyringPair, KeyringPair];
});

interface Harness {
  admission: ValidatorAdmission;
  registry: Registry;
  logs: Record<string, unknown>[];
  count: (result: AdmissionResult) => Promise<number>;
}

/** An admission for `validator` with minerA registered, its log lines and counter collected. */
function harness(policy: { unsigned?: AdmissionPolicy; unregistered?: AdmissionPolicy } = {}): Harness {
  const registry = new Registry();
  const logs: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    {
      write(line: string) {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  );
  const admission = new ValidatorAdmission({
    validatorHotkey: validator.address,
    registered: [minerA.address],
    logger,
    registry,
    now: () => NOW,
    ...policy,
  });
  const count = async (result: AdmissionResult): Promise<number> => {
    const metric = await registry.getSingleMetric('hashrelay_validator_admissions_total')!.get();
    return metric.values.find((v) => v.labels.result === result)?.value ?? Number.NaN;
  };
  return { admission, registry, logs, count };
}

describe('validator admission: signed authorize', () => {
  test("a registered miner's signature for this validator admits it, credited to its hotkey", async () => {
    const { admission, count, logs } = harness();
    const { username, password } = signAuthorize(minerA, validator.address, NOW - 10, 'rig1');
    expect(await admission.authorize(username, password, 1)).toEqual({ ok: true, identity: minerA.address });
    expect(await count('accepted')).toBe(1);
    expect(await count('rejected_replay')).toBe(0); // every result label exists from the start
    expect(logs.at(-1)).toMatchObject({ result: 'accepted', identity: minerA.address, worker: 'rig1' });
  });

  test('the hotkey in another SS58 format is credited in the metagraph form (42)', async () => {
    const { admission } = harness();
    const polkadotForm = new Keyring({ type: 'sr25519', ss58Format: 0 }).addFromUri('//MinerA');
    expect(polkadotForm.address).not.toBe(minerA.address);
    const { username, password } = signAuthorize(polkadotForm, validator.address, NOW);
    expect(await admission.authorize(username, password, 1)).toEqual({ ok: true, identity: minerA.address });
  });

  test('a signature made for another validator is refused', async () => {
    const { admission, count } = harness();
    const { username, password } = signAuthorize(minerA, otherValidator.address, NOW);
    const verdict = await admission.authorize(username, password, 1);
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.message).toMatch(
      new RegExp(`does not verify.*signed for validator ${validator.address}`),
    );
    expect(await count('rejected_bad_signature')).toBe(1);
  });

  test('timestamps: ±300 s is accepted, one second beyond either way is stale', async () => {
    const { admission, count } = harness();
    for (const [t, ok] of [
      [NOW - 300, true],
      [NOW + 300, true],
      [NOW - 301, false],
      [NOW + 301, false],
    ] as const) {
      const { username, password } = signAuthorize(minerA, validator.address, t);
      const verdict = await admission.authorize(username, password, t);
      expect(verdict.ok).toBe(ok);
      if (!verdict.ok) expect(verdict.message).toMatch(/is 301 s from the validator's clock.*farm's clock/);
    }
    expect(await count('accepted')).toBe(2);
    expect(await count('rejected_stale')).toBe(2);
  });

  test('a configured window applies', async () => {
    const admission = new ValidatorAdmission({
      validatorHotkey: validator.address,
      registered: [minerA.address],
      logger: pino({ level: 'silent' }),
      windowSeconds: 30,
      now: () => NOW,
    });
    const fresh = signAuthorize(minerA, validator.address, NOW - 30);
    const old = signAuthorize(minerA, validator.address, NOW - 31);
    expect((await admission.authorize(fresh.username, fresh.password, 1)).ok).toBe(true);
    expect((await admission.authorize(old.username, old.password, 2)).ok).toBe(false);
  });

  test('a signature replayed on a second live connection is refused, and allowed once the first closes', async () => {
    const { admission, count, logs } = harness();
    const { username, password } = signAuthorize(minerA, validator.address, NOW);
    expect((await admission.authorize(username, password, 1)).ok).toBe(true);
    const replay = await admission.authorize(username, password, 2);
    expect(replay.ok).toBe(false);
    expect(!replay.ok && replay.message).toMatch(/in use on another live connection/);
    expect(logs.at(-1)).toMatchObject({ result: 'rejected_replay', connection: 2 });
    // The same connection may authorize again (another worker) with its own signature.
    expect((await admission.authorize(`${username}.rig2`, password, 1)).ok).toBe(true);
    expect(admission.liveSignatureCount).toBe(1);
    admission.release(1);
    expect(admission.liveSignatureCount).toBe(0);
    expect(await admission.authorize(username, password, 2)).toEqual({ ok: true, identity: minerA.address });
    expect((await admission.authorize(username, password, 3)).ok).toBe(false);
    expect(await count('rejected_replay')).toBe(2);
    expect(await count('accepted')).toBe(3);
  });

  test('a connection that closes while its signature is checked claims nothing', async () => {
    const { admission, count } = harness();
    const { username, password } = signAuthorize(minerA, validator.address, NOW);
    const pending = admission.authorize(username, password, 7);
    admission.release(7);
    expect((await pending).ok).toBe(false);
    expect(await count('rejected_closed')).toBe(1);
    expect(admission.liveSignatureCount).toBe(0);
    expect((await admission.authorize(username, password, 8)).ok).toBe(true);
  });

  test('forged or tampered signatures are refused, even when every policy forwards', async () => {
    const { admission, count } = harness({ unsigned: 'forward', unregistered: 'forward' });
    // minerB signs the message that claims minerA's hotkey.
    const claim = signAuthorize(minerA, validator.address, NOW);
    const forgedSig = signAuthorize(minerB, validator.address, NOW).password;
    const forged = await admission.authorize(claim.username, forgedSig, 1);
    expect(forged.ok).toBe(false);
    const hex = /sig=0x([0-9a-f]+)/.exec(claim.password)![1]!;
    const flipped = hex.slice(0, 10) + (hex[10] === '0' ? '1' : '0') + hex.slice(11);
    const tampered = await admission.authorize(claim.username, `t=${NOW},sig=0x${flipped}`, 2);
    expect(tampered.ok).toBe(false);
    const malformed = await admission.authorize(claim.username, `t=${NOW},sig=0x1234`, 3);
    expect(malformed.ok).toBe(false);
    const notAHotkey = await admission.authorize('farm.rig1', claim.password, 4);
    expect(notAHotkey.ok).toBe(false);
    expect(await count('rejected_bad_signature')).toBe(4);
    expect(await count('forwarded_unsigned')).toBe(0);
  });
});

describe('validator admission: policy for unsigned and unregistered miners', () => {
  test('unsigned: refused by default', async () => {
    const { admission, count } = harness();
    const verdict = await admission.authorize(`${minerA.address}.rig1`, 'x', 1);
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.message).toMatch(/no hotkey signature.*t=<unix seconds>/);
    expect(await count('rejected_unsigned')).toBe(1);
  });

  test('unsigned, forward: admitted as a marked identity, never as the hotkey it names', async () => {
    const { admission, count } = harness({ unsigned: 'forward' });
    // Claims a registered hotkey without proving it.
    const claimed = await admission.authorize(`${minerA.address}.rig1`, 'd=1024', 1);
    expect(claimed).toEqual({ ok: true, identity: `unverified:${minerA.address}` });
    const odd = await admission.authorize(`${'é'.repeat(10)}${'x'.repeat(100)} :/.rig`, '', 2);
    expect(odd.ok && odd.identity).toBe(
      `unverified:${'_'.repeat(10)}${'x'.repeat(MAX_UNVERIFIED_NAME - 10)}`,
    );
    const empty = await admission.authorize('.rig', '', 3);
    expect(empty.ok && empty.identity).toBe('unverified:_');
    for (const verdict of [claimed, odd, empty])
      expect(verdict.ok && isMarkedIdentity(verdict.identity!)).toBe(true);
    expect(await count('forwarded_unsigned')).toBe(3);
  });

  test('unregistered: refused by default; forward credits the proven hotkey (scoring decides by the metagraph)', async () => {
    const signed = signAuthorize(minerB, validator.address, NOW);
    const strict = harness();
    const refused = await strict.admission.authorize(signed.username, signed.password, 1);
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.message).toMatch(
      new RegExp(`hotkey ${minerB.address} is not registered.*register it`),
    );
    expect(await strict.count('rejected_unregistered')).toBe(1);
    expect(strict.admission.liveSignatureCount).toBe(0);

    const lenient = harness({ unregistered: 'forward' });
    const forwarded = await lenient.admission.authorize(signed.username, signed.password, 1);
    expect(forwarded).toEqual({ ok: true, identity: minerB.address });
    expect(await lenient.count('forwarded_unregistered')).toBe(1);
    // A forwarded signature is live too: no replay on another connection.
    expect((await lenient.admission.authorize(signed.username, signed.password, 2)).ok).toBe(false);

    lenient.admission.updateRegistered([minerA.address, minerB.address]);
    const fresh = signAuthorize(minerB, validator.address, NOW);
    expect(await lenient.admission.authorize(fresh.username, fresh.password, 3)).toEqual({
      ok: true,
      identity: minerB.address,
    });
    lenient.admission.updateRegistered([minerB.address]);
    const a = signAuthorize(minerA, validator.address, NOW);
    expect(await lenient.admission.authorize(a.username, a.password, 4)).toEqual({
      ok: true,
      identity: minerA.address,
    });
    expect(await lenient.count('forwarded_unregistered')).toBe(2);
  });

  test('configuration errors name the bad value', () => {
    const logger = pino({ level: 'silent' });
    expect(() => new ValidatorAdmission({ validatorHotkey: 'nope', registered: [], logger })).toThrow(
      /validatorHotkey 'nope' is not an SS58 address/,
    );
    expect(
      () => new ValidatorAdmission({ validatorHotkey: validator.address, registered: ['bad'], logger }),
    ).toThrow(/registered hotkey 'bad'/);
  });
});
