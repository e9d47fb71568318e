import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyring } from '@polkadot/keyring';
import { u8aToHex } from '@polkadot/util';
import { cryptoWaitReady, mnemonicGenerate, mnemonicToMiniSecret } from '@polkadot/util-crypto';
import { beforeAll, describe, expect, test } from 'vitest';
import { authorizeMessage, signAuthorize, verifyAuthorize } from '../src/chain/authorize-proof.js';
import { hotkeyFromMnemonic, loadHotkeyFile } from '../src/chain/hotkey.js';

let mnemonic = '';
let validator = '';
beforeAll(async () => {
  await cryptoWaitReady();
  mnemonic = mnemonicGenerate();
  validator = new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri('//Validator').address;
});

describe('hotkeys', () => {
  test('a wallet hotkey file by secretPhrase or secretSeed gives the address it names', async () => {
    const expected = (await hotkeyFromMnemonic(mnemonic)).address;
    const dir = mkdtempSync(join(tmpdir(), 'hashrelay-wallet-'));
    const byPhrase = join(dir, 'phrase');
    writeFileSync(byPhrase, JSON.stringify({ secretPhrase: mnemonic, ss58Address: expected }));
    expect((await loadHotkeyFile(byPhrase)).address).toBe(expected);
    const bySeed = join(dir, 'seed');
    writeFileSync(
      bySeed,
      JSON.stringify({ secretSeed: u8aToHex(mnemonicToMiniSecret(mnemonic)), ss58Address: expected }),
    );
    expect((await loadHotkeyFile(bySeed)).address).toBe(expected);
    const wrong = join(dir, 'wrong');
    writeFileSync(wrong, JSON.stringify({ secretPhrase: mnemonic, ss58Address: validator }));
    await expect(loadHotkeyFile(wrong)).rejects.toThrow(/but the file says/);
    const coldkey = join(dir, 'coldkey');
    writeFileSync(coldkey, JSON.stringify({ encoded: 'xyz' }));
    await expect(loadHotkeyFile(coldkey)).rejects.toThrow(/neither secretPhrase nor secretSeed/);
  });
});

describe('signed authorize', () => {
  test('a farm signs for one validator; that validator verifies it, within the time window', async () => {
    const miner = await hotkeyFromMnemonic(mnemonic);
    const now = 1_795_000_000;
    const credentials = signAuthorize(miner, validator, now, 'rig7');
    expect(credentials.username).toBe(`${miner.address}.rig7`);
    expect(credentials.password).toMatch(/^t=1795000000,sig=0x[0-9a-f]{128}$/);
    const check = await verifyAuthorize(credentials.username, credentials.password, validator, now + 30);
    expect(check).toMatchObject({ ok: true, hotkey: miner.address, worker: 'rig7' });
    expect(authorizeMessage(validator, miner.address, now)).toBe(
      `hashrelay-authorize:${validator}:${miner.address}:${now}`,
    );
  });

  test('refused: another validator, a stale timestamp, a tampered signature, a foreign hotkey, a bare password', async () => {
    const miner = await hotkeyFromMnemonic(mnemonic);
    const other = new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri('//Other');
    const now = 1_795_000_000;
    const { username, password } = signAuthorize(miner, validator, now);
    expect(await verifyAuthorize(username, password, other.address, now)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/does not verify/) as unknown,
    });
    expect(await verifyAuthorize(username, password, validator, now + 301)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/outside ±300 s/) as unknown,
    });
    const tampered = password.replace(/sig=0x(.)/, (_m, c: string) => `sig=0x${c === 'a' ? 'b' : 'a'}`);
    expect(await verifyAuthorize(username, tampered, validator, now)).toMatchObject({ ok: false });
    expect(await verifyAuthorize(other.address, password, validator, now)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/does not verify/) as unknown,
    });
    expect(await verifyAuthorize(username, 'x', validator, now)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/t=<unix seconds>/) as unknown,
    });
    expect(await verifyAuthorize('not-an-address', password, validator, now)).toMatchObject({ ok: false });
  });
});
