import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * vitest global setup: compile once so that tests which start `hashrelay` as a process run
 * the same JavaScript an operator runs, and (re)build the native sha256d addon when its C
 * sources are newer than the build, as `npm install` would.
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  execFileSync(
    process.execPath,
    [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.build.json`],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  if (addonIsStale(root)) execFileSync('npm', ['run', 'install', '--silent'], { cwd: root, stdio: 'ignore' });
}

function addonIsStale(root: string): boolean {
  const addon = `${root}build/Release/hashrelay_sha256d.node`;
  if (!existsSync(addon)) return true;
  const built = statSync(addon).mtimeMs;
  const sources = [
    `${root}binding.gyp`,
    ...readdirSync(`${root}native`).map((file) => `${root}native/${file}`),
  ];
  return sources.some((source) => statSync(source).mtimeMs > built);
}
