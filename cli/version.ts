import { readFileSync } from 'node:fs';

/** hashrelay's version, from the package.json beside the build (dist/cli/ → the package root). */
export function packageVersion(): string {
  for (const candidate of ['../../package.json', '../package.json']) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (manifest.name === 'hashrelay' && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // Not here: try the next place the manifest can be.
    }
  }
  return 'unknown';
}
