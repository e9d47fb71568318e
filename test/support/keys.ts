import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { cryptoWaitReady } from '@polkadot/util-crypto';

/** sr25519 dev keys (`//Name`), SS58 format 42 as Bittensor uses, one per name in order. */
export async function devKeys(...names: string[]): Promise<KeyringPair[]> {
  await cryptoWaitReady();
  const ring = new Keyring({ type: 'sr25519', ss58Format: 42 });
  return names.map((name) => ring.addFromUri(`//${name}`));
}
