import { readFileSync } from 'node:fs';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { hexToU8a } from '@polkadot/util';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { jsonErrorWithoutExcerpt } from '../log/redact.js';

/** An SS58 address of an sr25519 hotkey (format 42, as Bittensor uses). */
export type Hotkey = string & { readonly __hotkey: unique symbol };

export class HotkeyError extends Error {}

async function keyring(): Promise<Keyring> {
  await cryptoWaitReady();
  return new Keyring({ type: 'sr25519', ss58Format: 42 });
}

/**
 * A hotkey from a Bittensor wallet hotkey file (plain JSON with `secretPhrase` or `secretSeed`,
 * and `ss58Address`). The file's `privateKey` is in another scalar encoding and is not used.
 */
export async function loadHotkeyFile(path: string): Promise<KeyringPair> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new HotkeyError(`cannot read hotkey file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    // V8 quotes the input around the mistake: here, part of the secret phrase.
    throw new HotkeyError(`hotkey file ${path} is not valid JSON: ${jsonErrorWithoutExcerpt(error)}`);
  }
  if (typeof parsed !== 'object' || parsed === null)
    throw new HotkeyError(`hotkey file ${path} is not a JSON object`);
  const file = parsed as { secretPhrase?: unknown; secretSeed?: unknown; ss58Address?: unknown };
  const ring = await keyring();
  let pair: KeyringPair;
  if (typeof file.secretPhrase === 'string') pair = ring.addFromMnemonic(file.secretPhrase);
  else if (typeof file.secretSeed === 'string') pair = ring.addFromSeed(hexToU8a(file.secretSeed));
  else
    throw new HotkeyError(
      `hotkey file ${path} has neither secretPhrase nor secretSeed (is it an encrypted coldkey?)`,
    );
  if (typeof file.ss58Address === 'string' && file.ss58Address !== pair.address) {
    throw new HotkeyError(
      `hotkey file ${path}: the secret gives ${pair.address}, but the file says ${file.ss58Address}`,
    );
  }
  return pair;
}

/** A hotkey from a mnemonic (e.g. from an environment variable). */
export async function hotkeyFromMnemonic(mnemonic: string): Promise<KeyringPair> {
  const ring = await keyring();
  try {
    return ring.addFromMnemonic(mnemonic.trim());
  } catch (error) {
    throw new HotkeyError(`invalid hotkey mnemonic: ${(error as Error).message}`);
  }
}

/** The hotkey a config names: a wallet hotkey file, else the mnemonic in an environment variable. */
export async function loadConfiguredHotkey(source: {
  readonly file?: string | undefined;
  readonly mnemonicEnv: string;
}): Promise<KeyringPair> {
  if (source.file !== undefined) return loadHotkeyFile(source.file);
  const mnemonic = process.env[source.mnemonicEnv];
  if (mnemonic === undefined || mnemonic.trim() === '')
    throw new HotkeyError(
      `no hotkey: give --hotkey-file (a Bittensor wallet hotkey file) or put the mnemonic in $${source.mnemonicEnv}`,
    );
  return hotkeyFromMnemonic(mnemonic);
}
