import { readFileSync } from 'node:fs';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { hexToU8a } from '@polkadot/util';
import { cryptoWaitReady, mnemonicValidate } from '@polkadot/util-crypto';
import { jsonErrorWithoutExcerpt } from '../log/redact.js';

/** An SS58 address of an sr25519 hotkey (format 42, as Bittensor uses). */
export type Hotkey = string & { readonly __hotkey: unique symbol };

export class HotkeyError extends Error {}

async function keyring(): Promise<Keyring> {
  await cryptoWaitReady();
  return new Keyring({ type: 'sr25519', ss58Format: 42 });
}

const SEED = /^0x[0-9a-fA-F]{64}$/;

/**
 * A hotkey from a BIP-39 mnemonic (checked against the word list and its checksum) or an
 * explicit 0x seed of 32 bytes. The keyring alone would take any short string as a raw seed,
 * so a typo or a password would load a key that no one registered.
 */
function pairFromSecret(ring: Keyring, secret: string, what: string): KeyringPair {
  const trimmed = secret.trim();
  if (trimmed.startsWith('0x')) {
    if (!SEED.test(trimmed))
      throw new HotkeyError(`${what} starts with 0x but is not a 32-byte hex seed (0x and 64 hex digits)`);
    return ring.addFromSeed(hexToU8a(trimmed));
  }
  const words = trimmed.split(/\s+/).length;
  if (!mnemonicValidate(trimmed))
    throw new HotkeyError(
      `${what} is not a valid BIP-39 mnemonic (${words} word${words === 1 ? '' : 's'}; a hotkey's has 12 to 24 words from the English list, with a checksum): give the hotkey's mnemonic or its 0x seed`,
    );
  return ring.addFromMnemonic(trimmed);
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
  if (typeof file.secretPhrase === 'string')
    pair = pairFromSecret(ring, file.secretPhrase, `hotkey file ${path}: secretPhrase`);
  else if (typeof file.secretSeed === 'string') {
    if (!SEED.test(file.secretSeed.trim()))
      throw new HotkeyError(
        `hotkey file ${path}: secretSeed is not a 32-byte hex seed (0x and 64 hex digits)`,
      );
    pair = pairFromSecret(ring, file.secretSeed, `hotkey file ${path}: secretSeed`);
  } else
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

/** A hotkey from a BIP-39 mnemonic or a 0x seed (e.g. from an environment variable). */
export async function hotkeyFromMnemonic(
  mnemonic: string,
  what = 'the hotkey mnemonic',
): Promise<KeyringPair> {
  return pairFromSecret(await keyring(), mnemonic, what);
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
  return hotkeyFromMnemonic(mnemonic, `$${source.mnemonicEnv}`);
}
