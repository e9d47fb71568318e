import type { KeyringPair } from '@polkadot/keyring/types';
import { pino } from 'pino';
import { beforeAll, describe, expect, test } from 'vitest';
import { reportRegistration } from '../cli/registration-report.js';
import { walletNamesOf } from '../src/chain/btcli-advice.js';
import type { Hotkey } from '../src/chain/hotkey.js';
import { MemoryChain } from '../src/chain/memory-chain.js';
import type { HotkeyRole } from '../src/chain/registration-check.js';
import { devKeys } from './support/keys.js';

const NETUID = 3;
const WALLET_FILE = '/home/op/.bittensor/wallets/mywallet/hotkeys/default';

let owner: KeyringPair;
let validator: KeyringPair;
let stranger: KeyringPair;
beforeAll(async () => {
  [owner, validator, stranger] = (await devKeys('Owner', 'Validator', 'Stranger')) as [
    KeyringPair,
    KeyringPair,
    KeyringPair,
  ];
});

/** Subnet 3 with a 1000-rao stake threshold; the owner (no permit, no stake) and a validator registered. */
function chainWith(validatorStake: bigint, validatorPermit: boolean): MemoryChain {
  const chain = new MemoryChain({ rules: 'mainnet' });
  chain.addSubnet(NETUID, { stakeThreshold: 1000n, ownerHotkey: owner.address as Hotkey });
  chain.register(NETUID, owner.address, { stake: 0n, validatorPermit: false });
  chain.register(NETUID, validator.address, { stake: validatorStake, validatorPermit });
  return chain;
}

async function report(
  chain: MemoryChain,
  key: KeyringPair,
  role: HotkeyRole,
  hotkeyFile: string | null = WALLET_FILE,
): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  await reportRegistration({
    chain,
    netuid: NETUID,
    hotkey: key.address as Hotkey,
    hotkeyFile: hotkeyFile ?? undefined,
    role,
    logger,
  });
  return lines;
}

describe('registration and stake at start', () => {
  test('an unregistered validator is told, at warn, the btcli command with its own wallet names', async () => {
    const lines = await report(chainWith(5000n, true), stranger, 'validator');
    expect(lines).toMatchObject([
      {
        level: 40,
        problem: 'not-registered',
        fix: 'btcli subnets register --netuid 3 --wallet.name mywallet --wallet.hotkey default',
      },
    ]);
    expect(String(lines[0]!.msg)).toMatch(/cannot post weights; to fix: btcli subnets register/);
  });

  test('a registered validator without permit or stake is told to stake; a healthy one hears nothing', async () => {
    const lines = await report(chainWith(10n, false), validator, 'validator');
    expect(lines.map((line) => [line.level, line.problem, line.fix])).toEqual([
      [
        40,
        'stake-below-threshold',
        'btcli stake add --netuid 3 --wallet.name mywallet --wallet.hotkey default',
      ],
      [
        40,
        'no-validator-permit',
        'btcli stake add --netuid 3 --wallet.name mywallet --wallet.hotkey default',
      ],
    ]);
    expect(await report(chainWith(5000n, true), validator, 'validator')).toEqual([]);
    // The subnet owner needs neither permit nor stake to set weights.
    expect(await report(chainWith(5000n, true), owner, 'validator')).toEqual([]);
  });

  test('a farm needs only a uid; from a mnemonic the command names placeholders', async () => {
    expect(await report(chainWith(10n, false), validator, 'farm')).toEqual([]);
    const lines = await report(chainWith(10n, false), stranger, 'farm', null);
    expect(lines).toMatchObject([
      {
        problem: 'not-registered',
        fix: "btcli subnets register --netuid 3 --wallet.name '<wallet>' --wallet.hotkey '<hotkey>'",
      },
    ]);
    expect(String(lines[0]!.msg)).toMatch(/earns no weight/);
  });

  test('an unreadable subnet is a warning, not a stop', async () => {
    const chain = new MemoryChain({ rules: 'mainnet' }); // no subnet 3
    const lines = await report(chain, validator, 'validator');
    expect(lines).toMatchObject([{ level: 40, error: expect.stringMatching(/SubnetNotExists/) as unknown }]);
  });

  test('wallet names come from btcli’s layout only', () => {
    expect(walletNamesOf(WALLET_FILE)).toEqual({ name: 'mywallet', hotkey: 'default' });
    expect(walletNamesOf('/etc/hashrelay/hotkey.json')).toEqual({ name: '<wallet>', hotkey: '<hotkey>' });
  });
});
