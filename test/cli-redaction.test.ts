import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import { loggerOptions } from '../src/log/logger.js';
import { redactCredentials } from '../src/log/redact.js';
import { runCli, runCliAsync, type CliRun } from './support/cli.js';
import { freePort } from './support/ports.js';

/** Passwords an operator typed into a URL or a config file never reach the terminal or the logs. */

const PG_SECRET = 'pg-Secret-4f1c';
const POOL_SECRET = 'pool-Secret-9a2e';
const dir = mkdtempSync(join(tmpdir(), 'hashrelay-redact-'));

function expectNoSecret(run: CliRun): void {
  for (const secret of [PG_SECRET, POOL_SECRET]) {
    expect(run.stdout, 'stdout').not.toContain(secret);
    expect(run.stderr, 'stderr').not.toContain(secret);
  }
}

describe('credentials in startup errors', () => {
  test('a PostgreSQL ledger that cannot be reached: the error names the server, not the password', async () => {
    const port = await freePort();
    const run = await runCliAsync([
      'proxy',
      '--listen',
      '127.0.0.1:0',
      '--upstream',
      `stratum+tcp://farm.rig:${POOL_SECRET}@127.0.0.1:${await freePort()}`,
      '--ledger',
      `postgres://hashrelay:${PG_SECRET}@127.0.0.1:${port}/hashrelay?connect_timeout=2`,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/cannot open ledger/);
    expect(run.stderr).toContain(`127.0.0.1:${port}`);
    expectNoSecret(run);
  });

  test('the audit of an unreachable PostgreSQL ledger', async () => {
    const run = await runCliAsync([
      'audit',
      '--ledger',
      `postgresql://auditor:${PG_SECRET}@127.0.0.1:${await freePort()}/hashrelay`,
      '--from',
      '2025-06-01T00:00:00Z',
      '--to',
      '2025-06-01T01:00:00Z',
    ]);
    expect(run.code).toBe(1);
    expectNoSecret(run);
  });

  test.each([
    ['an upstream URL without a port', `stratum+tcp://farm.rig:${POOL_SECRET}@127.0.0.1`],
    ['an upstream URL with a bad scheme', `http://farm.rig:${POOL_SECRET}@127.0.0.1:3333`],
    ['an upstream URL with a bad port', `stratum+tcp://farm.rig:${POOL_SECRET}@127.0.0.1:99999`],
    ['an upstream password holding @ and /', `stratum+tcp://farm.rig:${POOL_SECRET}@x/y@127.0.0.1`],
  ])('a configuration error in %s', (_name, upstream) => {
    const run = runCli(['proxy', '--listen', '127.0.0.1:0', '--upstream', upstream]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/upstreams/);
    expectNoSecret(run);
  });

  test('a ledger URL of an unknown kind', () => {
    const run = runCli([
      'proxy',
      '--listen',
      '127.0.0.1:0',
      '--upstream',
      'stratum+tcp://farm.rig@127.0.0.1:3333',
      '--ledger',
      `mysql://hashrelay:${PG_SECRET}@127.0.0.1:3306/hashrelay`,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/ledger/);
    expectNoSecret(run);
  });

  test('a hotkey file that is not JSON: the message quotes none of the secret phrase', () => {
    const path = join(dir, 'hotkey.json');
    // Unquoted, so V8's message quotes the text at the mistake: the first words of the phrase.
    writeFileSync(
      path,
      '{"secretPhrase": bottom drive obey lake curtain smoke basket hold race lonely fit walk}',
    );
    const run = runCli([
      'miner-agent',
      '--chain',
      'ws://127.0.0.1:1',
      '--netuid',
      '1',
      '--hotkey-file',
      path,
      '--listen',
      '127.0.0.1:0',
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/hotkey file .* is not valid JSON/);
    expect(run.stderr).not.toMatch(/bottom|drive/);
  });
});

describe('redactCredentials', () => {
  test.each([
    ['postgres://hashrelay:SECRET@db:5432/ledger', 'postgres://hashrelay:***@db:5432/ledger'],
    [
      "cannot open 'stratum+ssl://farm.rig:SECRET@pool:443'",
      "cannot open 'stratum+ssl://farm.rig:***@pool:443'",
    ],
    ['postgres://u:SE@CR/ET@db/ledger', 'postgres://u:***@db/ledger'],
    [
      'postgres://u@db/ledger?password=SECRET&sslmode=require',
      'postgres://u@db/ledger?password=***&sslmode=require',
    ],
    ['host=db user=u password=SECRET dbname=x', 'host=db user=u password=*** dbname=x'],
    ['PGPASSWORD=SECRET psql', 'PGPASSWORD=*** psql'],
    ['Authorization: Bearer SECRET', 'Authorization: Bearer ***'],
  ])('%s', (text, redacted) => {
    expect(redactCredentials(text)).toBe(redacted);
  });

  test('leaves text without credentials, and the USER:PASS placeholders of help text, alone', () => {
    for (const text of [
      'stratum+tcp://farm.rig@pool:3333',
      'expected stratum+tcp://USER:PASS@HOST:PORT',
      'postgres://USER:PASSWORD@HOST:PORT/DATABASE',
      'password authentication failed for user "hashrelay"',
      'connect ECONNREFUSED 127.0.0.1:5432',
    ])
      expect(redactCredentials(text)).toBe(text);
  });

  test('the logger redacts secret fields and URLs in any field or message', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino(loggerOptions('info'), sink);
    logger.info({ password: 'SECRET', upstream: { password: 'SECRET' } }, 'a config');
    logger.warn({ error: 'cannot reach postgres://u:SECRET@db/x' }, 'ledger down');
    logger.error(new Error('bad stratum+tcp://u:SECRET@pool:1'), 'upstream failed');
    logger.info('connecting to postgres://u:SECRET@db/x');
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line).not.toContain('SECRET');
    expect(lines[1]).toContain('postgres://u:***@db/x');
  });
});
