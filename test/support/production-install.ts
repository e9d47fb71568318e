import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './cli.js';

/** A production install of the built CLI: what the Docker image holds, without the test peers. */
export interface ProductionInstall {
  readonly dir: string;
  readonly cli: string;
  remove(): void;
}

/**
 * Lays out dist (without its test/ and bench/), package.json and the lockfile beside a copy of
 * node_modules, then prunes the development dependencies as deploy/Dockerfile does. The copy is
 * hard links where the file system allows (fast; `npm prune` only unlinks), else a full copy.
 * The native sha256d addon is built from its sources by the package's install script, as
 * `npm ci` builds it in the image.
 */
export function productionInstall(): ProductionInstall {
  const dir = mkdtempSync(join(tmpdir(), 'hashrelay-production-'));
  try {
    for (const file of ['package.json', 'package-lock.json', 'binding.gyp']) {
      cpSync(join(REPO_ROOT, file), join(dir, file));
    }
    cpSync(join(REPO_ROOT, 'native'), join(dir, 'native'), { recursive: true });
    cpSync(join(REPO_ROOT, 'dist'), join(dir, 'dist'), {
      recursive: true,
      filter: (source) => !/[/\\]dist[/\\](test|bench)([/\\]|$)/.test(source),
    });
    const modules = realpathSync(join(REPO_ROOT, 'node_modules'));
    try {
      execFileSync('cp', ['-al', modules, join(dir, 'node_modules')], { stdio: 'ignore' });
      // npm rewrites its hidden lockfile: that one file must not be shared with the checkout.
      rmSync(join(dir, 'node_modules/.package-lock.json'), { force: true });
      cpSync(join(modules, '.package-lock.json'), join(dir, 'node_modules/.package-lock.json'));
    } catch {
      rmSync(join(dir, 'node_modules'), { recursive: true, force: true });
      cpSync(modules, join(dir, 'node_modules'), { recursive: true, verbatimSymlinks: true });
    }
    execFileSync('npm', ['prune', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: dir,
      stdio: 'ignore',
    });
    execFileSync('npm', ['run', 'install', '--silent'], { cwd: dir, stdio: 'ignore' });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    dir,
    cli: join(dir, 'dist/cli/main.js'),
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
