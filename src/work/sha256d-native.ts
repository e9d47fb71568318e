import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { messageCount, type Sha256dBackend } from './sha256d-backend.js';
import { jsSha256dBackend } from './sha256d-js.js';
import { shareRecordCount } from './share-hash-job.js';

/**
 * The sha256d backend every share check uses: the native addon built at install (binding.gyp,
 * native/) when it loads, else the JavaScript SHA-256. `HASHRELAY_SHA256D` picks: `auto`
 * (default), `native` (refuse to start without the addon) or `js`. Chosen once, at import.
 */

/** The addon's exports (native/addon.c); `abi` must equal ADDON_ABI. */
export interface Sha256dAddon {
  readonly abi: number;
  sha256d(message: Uint8Array, out: Uint8Array): void;
  sha256dEach(messages: Uint8Array, messageLength: number, out: Uint8Array): void;
  hashShares(job: Uint8Array, shares: Uint8Array, stride: number, out: Uint8Array): void;
  implementation(): string;
  /** `best` or an implementation's name; false when this CPU lacks it. */
  select(name: string): boolean;
}

const ADDON_ABI = 1;
const ADDON_FILE = 'build/Release/hashrelay_sha256d.node';
/** The package root seen from src/work (tests, tsx) and from dist/src/work (the built CLI). */
const PACKAGE_ROOTS = ['../../', '../../../'];

export type AddonLoad = { readonly addon: Sha256dAddon } | { readonly problem: string };

/** Loads the addon from the package's build directory; never throws. */
export function loadSha256dAddon(): AddonLoad {
  const require = createRequire(import.meta.url);
  const candidates = PACKAGE_ROOTS.map((root) => fileURLToPath(new URL(root + ADDON_FILE, import.meta.url)));
  const path = candidates.find((candidate) => existsSync(candidate));
  if (path === undefined) {
    return {
      problem: `${ADDON_FILE} was not built (npm install builds it; it needs python3, make and a C compiler)`,
    };
  }
  try {
    const addon = require(path) as Sha256dAddon;
    if (addon.abi !== ADDON_ABI) {
      return {
        problem: `${path} is a stale build (abi ${addon.abi}, expected ${ADDON_ABI}): run npm install again`,
      };
    }
    return { addon };
  } catch (error) {
    return { problem: `${path} did not load: ${(error as Error).message}` };
  }
}

/** A backend over the addon; arguments are checked here so its errors match the JavaScript one's. */
export function nativeSha256dBackend(addon: Sha256dAddon): Sha256dBackend {
  return {
    name: addon.implementation(),
    sha256d(message, out) {
      if (out.length !== 32) throw new RangeError('out must be 32 bytes');
      addon.sha256d(message, out);
    },
    sha256dEach(messages, messageLength, out) {
      messageCount(messages, messageLength, out);
      addon.sha256dEach(messages, messageLength, out);
    },
    hashShares(job, shares, stride, out) {
      shareRecordCount(shares, stride, out);
      addon.hashShares(job.layout, shares, stride, out);
    },
  };
}

export interface Sha256dSelection {
  readonly backend: Sha256dBackend;
  /** Why the JavaScript backend runs (`HASHRELAY_SHA256D=js` or the addon's load problem); null when native. */
  readonly fallbackReason: string | null;
}

/** The backend for a `HASHRELAY_SHA256D` value. Throws only when `native` is demanded and absent. */
export function selectSha256dBackend(choice: string | undefined): Sha256dSelection {
  const wanted = choice === undefined || choice === '' ? 'auto' : choice;
  if (wanted !== 'auto' && wanted !== 'native' && wanted !== 'js') {
    throw new Error(`HASHRELAY_SHA256D is ${JSON.stringify(choice)}: set it to auto, native or js`);
  }
  if (wanted === 'js') return { backend: jsSha256dBackend, fallbackReason: 'HASHRELAY_SHA256D=js' };
  const load = loadSha256dAddon();
  if ('addon' in load) return { backend: nativeSha256dBackend(load.addon), fallbackReason: null };
  if (wanted === 'native') {
    throw new Error(`HASHRELAY_SHA256D=native but the native sha256d addon is unavailable: ${load.problem}`);
  }
  return { backend: jsSha256dBackend, fallbackReason: load.problem };
}

/** The process's choice, made once; metrics and the bench report `sha256dSelection.backend.name`. */
export const sha256dSelection: Sha256dSelection = selectSha256dBackend(process.env.HASHRELAY_SHA256D);
