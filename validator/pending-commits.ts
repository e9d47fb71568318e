import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetUid, Uid } from '../src/chain/chain.js';
import type { Hotkey } from '../src/chain/hotkey.js';

/**
 * Weight commits waiting for their reveal epoch, kept on disk so a restarted validator can
 * still reveal them: without the salt a commit can never be revealed and the validator's
 * weights for that period are lost. One JSON file per (subnet, hotkey), replaced atomically
 * (write a temporary file, fsync it, rename it over the old one, fsync the directory), so a
 * crash leaves either the old list or the new one, never a torn file.
 */

export interface PendingCommit {
  readonly hotkey: Hotkey;
  readonly netuid: NetUid;
  readonly uids: readonly Uid[];
  readonly values: readonly number[];
  readonly salt: readonly number[];
  readonly versionKey: bigint;
  /** The commit hash, 0x hex. */
  readonly hash: string;
  /** The best block when the commit was sent. */
  readonly submittedAtBlock: number;
  /** The block the commit was included in; null while that is not known (written before sending). */
  readonly commitBlock: number | null;
  /** The epoch of `commitBlock`, or provisionally of `submittedAtBlock`. */
  readonly commitEpoch: number;
}

export class PendingCommitsError extends Error {}

const FORMAT = 1;

interface FileShape {
  readonly format: number;
  readonly commits: readonly Record<string, unknown>[];
}

export class PendingCommitStore {
  readonly path: string;
  private commits: PendingCommit[] = [];

  private constructor(path: string) {
    this.path = path;
  }

  /** Opens (creating the directory if needed) the store of `hotkey` on `netuid` under `stateDir`. */
  static async open(stateDir: string, netuid: NetUid, hotkey: Hotkey): Promise<PendingCommitStore> {
    await mkdir(stateDir, { recursive: true });
    const store = new PendingCommitStore(join(stateDir, `pending-commits-${netuid}-${hotkey}.json`));
    let text: string | undefined;
    try {
      text = await readFile(store.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new PendingCommitsError(
          `cannot read pending commits ${store.path}: ${(error as Error).message}`,
        );
      }
    }
    if (text !== undefined) store.commits = parseFile(text, store.path);
    return store;
  }

  /** The pending commits, oldest first. */
  list(): readonly PendingCommit[] {
    return this.commits;
  }

  async add(commit: PendingCommit): Promise<void> {
    await this.write([...this.commits, commit]);
  }

  /** Replaces the commit with `commit.hash` (e.g. once its inclusion block is known). */
  async update(commit: PendingCommit): Promise<void> {
    await this.write(this.commits.map((c) => (c.hash === commit.hash ? commit : c)));
  }

  async remove(hash: string): Promise<void> {
    await this.write(this.commits.filter((c) => c.hash !== hash));
  }

  private async write(commits: PendingCommit[]): Promise<void> {
    const body = JSON.stringify({ format: FORMAT, commits: commits.map(toJson) }, null, 2) + '\n';
    const temp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      const file = await open(temp, 'wx', 0o600);
      try {
        await file.writeFile(body, 'utf8');
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, this.path);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw new PendingCommitsError(
        `cannot write pending commits ${this.path}: ${(error as Error).message}; check the state directory is writable`,
      );
    }
    await syncDirectory(join(this.path, '..'));
    this.commits = commits;
  }
}

/** Makes a rename durable; some platforms cannot open a directory, and there it is a no-op. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
  } catch {
    return;
  }
  try {
    await handle.sync();
  } catch {
    // Directories cannot be fsynced on every platform (EINVAL/EISDIR); the rename still happened.
  } finally {
    await handle.close();
  }
}

function toJson(commit: PendingCommit): Record<string, unknown> {
  return { ...commit, versionKey: commit.versionKey.toString() };
}

function parseFile(text: string, path: string): PendingCommit[] {
  const fail = (why: string): never => {
    throw new PendingCommitsError(
      `pending commits file ${path} is unreadable (${why}); move it aside to start afresh ` +
        '(the commits it held cannot then be revealed and will expire on chain)',
    );
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return fail((error as Error).message);
  }
  const file = parsed as Partial<FileShape> | null;
  if (typeof file !== 'object' || file === null || file.format !== FORMAT || !Array.isArray(file.commits)) {
    return fail(`expected {"format": ${FORMAT}, "commits": [...]}`);
  }
  return (file.commits as readonly unknown[]).map((entry, i) => {
    const where = `commits[${i}]`;
    if (typeof entry !== 'object' || entry === null) return fail(`${where} is not an object`);
    const raw = entry as Record<string, unknown>;
    const u16s = (key: string): number[] => {
      const value = raw[key];
      if (!Array.isArray(value) || !value.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffff)) {
        return fail(`${where}.${key} is not a list of u16`);
      }
      return value as number[];
    };
    const integer = (key: string): number => {
      const value = raw[key];
      if (!Number.isSafeInteger(value)) return fail(`${where}.${key} is not an integer`);
      return value as number;
    };
    const text = (key: string): string => {
      const value = raw[key];
      if (typeof value !== 'string') return fail(`${where}.${key} is not a string`);
      return value;
    };
    const versionKey = text('versionKey');
    if (!/^\d+$/.test(versionKey)) fail(`${where}.versionKey is not a decimal u64`);
    return {
      hotkey: text('hotkey') as Hotkey,
      netuid: integer('netuid'),
      uids: u16s('uids'),
      values: u16s('values'),
      salt: u16s('salt'),
      versionKey: BigInt(versionKey),
      hash: text('hash'),
      submittedAtBlock: integer('submittedAtBlock'),
      commitBlock: raw.commitBlock === null ? null : integer('commitBlock'),
      commitEpoch: integer('commitEpoch'),
    };
  });
}
