import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, rmdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real small filesystem (tmpfs) that a test can fill to the last byte and free again: the
 * disk-full path as SQLite meets it (ENOSPC → SQLITE_FULL). Needs root (mount); `available()`
 * says why not, for a skipped test's message.
 */
export class SmallDisk {
  private constructor(readonly dir: string) {}

  /** Null when tmpfs can be mounted here, else why not. */
  static unavailable(): string | null {
    if (process.platform !== 'linux') return 'needs Linux (tmpfs)';
    const probe = mkdtempSync(join(tmpdir(), 'hashrelay-disk-probe-'));
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1M', 'tmpfs', probe], {
      encoding: 'utf8',
    });
    if (mounted.status === 0) spawnSync('umount', [probe]);
    rmdirSync(probe);
    return mounted.status === 0
      ? null
      : `cannot mount a tmpfs (run as root to test a full disk): ${mounted.stderr.trim()}`;
  }

  static mount(sizeMiB: number): SmallDisk {
    const dir = mkdtempSync(join(tmpdir(), 'hashrelay-disk-'));
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}M`, 'tmpfs', dir], {
      encoding: 'utf8',
    });
    if (mounted.status !== 0) throw new Error(`mount tmpfs on ${dir}: ${mounted.stderr}`);
    return new SmallDisk(dir);
  }

  private get filler(): string {
    return join(this.dir, 'filler');
  }

  /** Writes a filler file until the filesystem refuses another byte. */
  fill(): void {
    const fd = openSync(this.filler, 'a');
    try {
      for (const chunk of [1 << 20, 1 << 12, 1]) {
        const bytes = Buffer.alloc(chunk, 0xaa);
        for (;;) {
          try {
            writeSync(fd, bytes);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
            throw error;
          }
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Removes the filler: the space is back. */
  free(): void {
    rmSync(this.filler, { force: true });
  }

  unmount(): void {
    spawnSync('umount', [this.dir]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
