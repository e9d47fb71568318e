import type { KeyringPair } from '@polkadot/keyring/types';
import { u8aToHex } from '@polkadot/util';
import { cryptoWaitReady, signatureVerify } from '@polkadot/util-crypto';

/**
 * The farm proves it owns the hotkey it mines for (ARCHITECTURE.md, Trust): the upstream
 * `mining.authorize` to a validator uses username `<miner hotkey>[.<worker>]` and password
 * `t=<unix seconds>,sig=0x<hex>`, where sig is the hotkey's sr25519 signature over
 * `hashrelay-authorize:<validator hotkey>:<miner hotkey>:<unix seconds>`.
 */
export function authorizeMessage(validatorHotkey: string, minerHotkey: string, unixSeconds: number): string {
  return `hashrelay-authorize:${validatorHotkey}:${minerHotkey}:${unixSeconds}`;
}

export interface AuthorizeCredentials {
  readonly username: string;
  readonly password: string;
}

export function signAuthorize(
  miner: KeyringPair,
  validatorHotkey: string,
  unixSeconds: number,
  worker?: string,
): AuthorizeCredentials {
  const signature = miner.sign(
    new TextEncoder().encode(authorizeMessage(validatorHotkey, miner.address, unixSeconds)),
  );
  return {
    username: worker === undefined ? miner.address : `${miner.address}.${worker}`,
    password: `t=${unixSeconds},sig=${u8aToHex(signature)}`,
  };
}

export type AuthorizeCheck =
  | {
      readonly ok: true;
      readonly hotkey: string;
      readonly worker: string | undefined;
      readonly signature: string;
    }
  | { readonly ok: false; readonly reason: string };

/** A signed authorize as the farm sent it, well-formed but not yet verified. */
export interface AuthorizeClaim {
  readonly hotkey: string;
  readonly worker: string | undefined;
  readonly unixSeconds: number;
  /** `0x` and 128 hex digits, lower case. */
  readonly signature: string;
}

/** Reads username and password into a claim; checks form only (no crypto, so it costs nothing). */
export function parseAuthorizeClaim(
  username: string,
  password: string,
): { readonly ok: true; readonly claim: AuthorizeClaim } | { readonly ok: false; readonly reason: string } {
  const dot = username.indexOf('.');
  const hotkey = dot < 0 ? username : username.slice(0, dot);
  const worker = dot < 0 ? undefined : username.slice(dot + 1);
  const fields = new Map<string, string>();
  for (const part of password.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const t = Number(fields.get('t'));
  const signature = fields.get('sig');
  if (!Number.isInteger(t) || signature === undefined || !/^0x[0-9a-fA-F]{128}$/.test(signature)) {
    return {
      ok: false,
      reason: 'password must be t=<unix seconds>,sig=0x<128 hex> (a signed hashrelay authorize)',
    };
  }
  return { ok: true, claim: { hotkey, worker, unixSeconds: t, signature: signature.toLowerCase() } };
}

/**
 * The sr25519 check of a claim for this validator: the expensive step (about 0.25 ms of the
 * main thread), so callers run it last. Needs `cryptoWaitReady()`; throws when the hotkey is
 * not an SS58 address.
 */
export function claimSignatureVerifies(claim: AuthorizeClaim, validatorHotkey: string): boolean {
  return signatureVerify(
    authorizeMessage(validatorHotkey, claim.hotkey, claim.unixSeconds),
    claim.signature,
    claim.hotkey,
  ).isValid;
}

/**
 * Verifies a signed authorize for this validator. `now` and the window are in seconds; the
 * caller also refuses a signature already in use on another live connection.
 */
export async function verifyAuthorize(
  username: string,
  password: string,
  validatorHotkey: string,
  now: number,
  windowSeconds = 300,
): Promise<AuthorizeCheck> {
  await cryptoWaitReady();
  const parsed = parseAuthorizeClaim(username, password);
  if (!parsed.ok) return parsed;
  const { claim } = parsed;
  if (Math.abs(now - claim.unixSeconds) > windowSeconds) {
    return {
      ok: false,
      reason: `timestamp ${claim.unixSeconds} is outside ±${windowSeconds} s of the validator's clock (${now})`,
    };
  }
  let valid = false;
  try {
    valid = claimSignatureVerifies(claim, validatorHotkey);
  } catch {
    return { ok: false, reason: `username '${claim.hotkey.slice(0, 64)}' is not an SS58 hotkey` };
  }
  if (!valid) return { ok: false, reason: 'signature does not verify for this hotkey and this validator' };
  return { ok: true, hotkey: claim.hotkey, worker: claim.worker, signature: claim.signature };
}
