import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Keyring } from '@polkadot/keyring';
import { u8aToHex } from '@polkadot/util';
import { cryptoWaitReady, mnemonicGenerate, mnemonicToMiniSecret } from '@polkadot/util-crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { logFarmRegistration } from '../cli/hotkey-registration.js';
import { runMinerAgentCommand } from '../cli/miner-agent-command.js';
import { MemoryChain } from '../src/chain/memory-chain.js';
import { HotkeyError, hotkeyFromMnemonic, loadHotkeyFile } from '../src/chain/hotkey.js';

let dir = '';
let mnemonic = '';
beforeAll(async () => {
  await cryptoWaitReady();
  mnemonic = mnemonicGenerate();
  dir = mkdtempSync(join(tmpdir(), 'hashrelay-secrets-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function walletFile(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

describe('hotkey secrets', () => {
  test('a short password or words that are not a BIP-39 mnemonic are refused, not taken as a raw seed', async () => {
    await expect(hotkeyFromMnemonic('hunter2')).rejects.toThrow(HotkeyError);
    await expect(hotkeyFromMnemonic('hunter2')).rejects.toThrow(/not a valid BIP-39 mnemonic \(1 word/);
    // Twelve words from the list whose checksum does not hold.
    await expect(hotkeyFromMnemonic(`${'abandon '.repeat(11)}zoo`)).rejects.toThrow(/BIP-39/);
    await expect(hotkeyFromMnemonic('0x1234')).rejects.toThrow(/not a 32-byte hex seed/);
  });

  test('a valid mnemonic and its explicit 0x seed give the same hotkey', async () => {
    const byPhrase = await hotkeyFromMnemonic(`  ${mnemonic}\n`);
    const bySeed = await hotkeyFromMnemonic(u8aToHex(mnemonicToMiniSecret(mnemonic)));
    expect(bySeed.address).toBe(byPhrase.address);
  });

  test('a wallet file with a bad phrase or seed is refused with a message, not a stack trace', async () => {
    await expect(loadHotkeyFile(walletFile('phrase', { secretPhrase: 'hunter2' }))).rejects.toThrow(
      /secretPhrase is not a valid BIP-39 mnemonic/,
    );
    for (const secretSeed of ['nothex', '0xzz', '0x1234'])
      await expect(loadHotkeyFile(walletFile('seed', { secretSeed }))).rejects.toThrow(
        /secretSeed is not a 32-byte hex seed/,
      );
  });

  test('hashrelay miner-agent refuses a non-mnemonic in its mnemonic variable before it starts', async () => {
    const config = walletFile('farm.json', {
      chain: 'ws://127.0.0.1:1',
      netuid: 1,
      hotkey: { mnemonicEnv: 'HASHRELAY_SECRETS_TEST_MNEMONIC' },
      proxy: { listen: ['127.0.0.1:0'], ledger: `sqlite:${join(dir, 'farm.sqlite')}` },
    });
    process.env.HASHRELAY_SECRETS_TEST_MNEMONIC = 'hunter2';
    try {
      const chain = new MemoryChain({ startBlock: 1 });
      const result = await runMinerAgentCommand(['--config', config], {
        connectChain: () => Promise.resolve(chain),
      });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/\$HASHRELAY_SECRETS_TEST_MNEMONIC is not a valid BIP-39 mnemonic/);
      const badFile = walletFile('hotkey', { secretSeed: 'nothex' });
      const fromFile = await runMinerAgentCommand(['--config', config, '--hotkey-file', badFile], {
        connectChain: () => Promise.resolve(chain),
      });
      expect(fromFile.code).toBe(2);
      expect(fromFile.stderr).toMatch(/secretSeed is not a 32-byte hex seed/);
    } finally {
      delete process.env.HASHRELAY_SECRETS_TEST_MNEMONIC;
    }
  });

  test('the farm says which hotkey it loaded and whether the subnet has it registered', async () => {
    const ring = new Keyring({ type: 'sr25519', ss58Format: 42 });
    const [registered, stranger] = [ring.addFromUri('//Farm'), ring.addFromUri('//Stranger')];
    const chain = new MemoryChain({ startBlock: 1 });
    chain.addSubnet(7, { commitRevealEnabled: false });
    chain.register(7, registered.address, { stake: 0n, validatorPermit: false });
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const logger = pino(sink);
    await logFarmRegistration(chain, 7, registered.address, logger);
    await logFarmRegistration(chain, 7, stranger.address, logger);
    await chain.close();
    expect(lines.map((line) => [line.hotkey, line.registered])).toEqual([
      [registered.address, true],
      [stranger.address, false],
    ]);
    expect(lines[1]!.msg).toMatch(/not registered on the subnet/);
  });
});
