import { basename, dirname, sep } from 'node:path';
import type { NetUid } from './chain.js';

/**
 * The btcli commands that fix a hotkey's standing on a subnet, spelled with the operator's own
 * wallet names so a log line can be pasted as is.
 */

/** `--wallet.name` and `--wallet.hotkey` for btcli. */
export interface WalletNames {
  readonly name: string;
  readonly hotkey: string;
}

/** Placeholders for a hotkey loaded from a mnemonic, where the wallet is not known. */
export const UNKNOWN_WALLET: WalletNames = { name: '<wallet>', hotkey: '<hotkey>' };

/** The wallet of a hotkey file at `…/wallets/<wallet>/hotkeys/<hotkey>` (btcli's layout), else placeholders. */
export function walletNamesOf(hotkeyFile: string | undefined): WalletNames {
  if (hotkeyFile === undefined) return UNKNOWN_WALLET;
  const hotkeysDir = dirname(hotkeyFile);
  if (basename(hotkeysDir) !== 'hotkeys' || !hotkeysDir.includes(sep)) return UNKNOWN_WALLET;
  return { name: basename(dirname(hotkeysDir)), hotkey: basename(hotkeyFile) };
}

function walletFlags(wallet: WalletNames): string {
  return `--wallet.name ${shellWord(wallet.name)} --wallet.hotkey ${shellWord(wallet.hotkey)}`;
}

export function btcliRegister(netuid: NetUid, wallet: WalletNames): string {
  return `btcli subnets register --netuid ${netuid} ${walletFlags(wallet)}`;
}

export function btcliStakeAdd(netuid: NetUid, wallet: WalletNames): string {
  return `btcli stake add --netuid ${netuid} ${walletFlags(wallet)}`;
}

/** A word the shell takes as is: placeholders and odd names are single-quoted. */
function shellWord(word: string): string {
  return /^[\w.-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}
