import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { CLI } from './support/cli.js';
import { freePort } from './support/ports.js';

/**
 * What a plain `hashrelay proxy` loads: every module node resolves (a module hook writes each
 * URL to a file), while it runs with a SQLite ledger. Whatever a role does not use is memory
 * it holds for nothing: the chain client (@polkadot/api, ~25 MiB) and the PostgreSQL driver
 * belong to other roles and ledgers.
 */

const dir = mkdtempSync(join(tmpdir(), 'hashrelay-module-graph-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const HOOK = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(process.env.HASHRELAY_TEST_MODULE_LOG, resolved.url + '\\n');
  return resolved;
}
`;

function moduleHook(): string {
  writeFileSync(join(dir, 'hook.mjs'), HOOK);
  const register = join(dir, 'register.mjs');
  writeFileSync(
    register,
    `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hook.mjs')).href)});\n`,
  );
  return register;
}

test('a plain proxy with a SQLite ledger loads neither the chain client nor the PostgreSQL driver', async () => {
  const log = join(dir, 'modules.txt');
  writeFileSync(log, '');
  const [listen, deadUpstream] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [
      '--import',
      moduleHook(),
      CLI,
      'proxy',
      '--listen',
      `127.0.0.1:${listen}`,
      '--upstream',
      `stratum+tcp://farm:x@127.0.0.1:${deadUpstream}`,
      '--ledger',
      `sqlite:${join(dir, 'proxy.sqlite')}`,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HASHRELAY_LOG_FORMAT: 'json', HASHRELAY_TEST_MODULE_LOG: log },
    },
  );
  let output = '';
  const listening = new Promise<void>((resolve, reject) => {
    const read = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('"listening for miners"')) resolve();
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.once('exit', (code) => {
      reject(new Error(`the proxy exited (${String(code)}) before listening: ${output}`));
    });
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await listening;
    child.kill('SIGTERM');
    await exited;
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }

  const modules = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  // The hook saw the proxy's own modules and its ledger (else the check below means nothing).
  expect(modules.some((url) => url.endsWith('/proxy/proxy.js'))).toBe(true);
  expect(modules.some((url) => url.includes('/node_modules/better-sqlite3/'))).toBe(true);
  const foreign = modules.filter((url) => /\/node_modules\/(@polkadot\/|pg\/|pg-)/.test(url));
  expect(foreign).toEqual([]);
}, 60_000);
