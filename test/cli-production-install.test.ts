import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REPO_ROOT } from './support/cli.js';
import { freePort } from './support/ports.js';
import { productionInstall, type ProductionInstall } from './support/production-install.js';

let install: ProductionInstall;
beforeAll(() => {
  install = productionInstall();
}, 120_000);
afterAll(() => {
  install.remove();
});

function run(args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [install.cli, ...args], { encoding: 'utf8', cwd: install.dir });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('a production install (dependencies only, as in the Docker image)', () => {
  test('has no development dependency and no test peers', () => {
    expect(existsSync(join(install.dir, 'node_modules/bitcoinjs-lib'))).toBe(false);
    expect(existsSync(join(install.dir, 'node_modules/vitest'))).toBe(false);
    expect(existsSync(join(install.dir, 'dist/test'))).toBe(false);
  });

  test('hashrelay --version, --help and every command’s --help run', () => {
    const version = run(['--version']);
    expect(version.code, version.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout.trim()).toBe(`hashrelay ${manifest.version}`);
    const help = run(['--help']);
    expect(help.code, help.stderr).toBe(0);
    const commands = [...help.stdout.split('Commands:\n')[1]!.matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]!);
    expect(commands).toEqual(expect.arrayContaining(['proxy', 'miner-agent', 'validator', 'audit', 'demo']));
    for (const command of commands) {
      const commandHelp = run([command, '--help']);
      expect(commandHelp.code, `${command}: ${commandHelp.stderr}`).toBe(0);
      expect(commandHelp.stdout).toMatch(new RegExp(`^Usage: hashrelay ${command}`));
    }
  });

  test('the demo, a development command, says what to install', () => {
    const demo = run(['demo', '--seconds', '1']);
    expect(demo.code).toBe(1);
    expect(demo.stderr).toMatch(/need the development dependencies/);
    expect(demo.stderr).toMatch(/npm install && npm start/);
  });

  test('hashrelay proxy starts, verifies with the native sha256d, takes a miner’s connection, answers /healthz, serves its status page, and stops on SIGTERM', async () => {
    const [listen, admin, deadUpstream] = [await freePort(), await freePort(), await freePort()];
    const child = spawn(
      process.execPath,
      [
        install.cli,
        'proxy',
        '--listen',
        `127.0.0.1:${listen}`,
        '--upstream',
        `stratum+tcp://farm:x@127.0.0.1:${deadUpstream}`,
        '--ledger',
        `sqlite:${join(install.dir, 'proxy.sqlite')}`,
        '--metrics',
        `127.0.0.1:${admin}`,
      ],
      {
        cwd: install.dir,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, HASHRELAY_LOG_FORMAT: 'json' },
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const deadline = Date.now() + 30_000;
      let health: Response | undefined;
      while (health?.status !== 200) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`the proxy did not come up: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        health = await fetch(`http://127.0.0.1:${admin}/healthz`).catch(() => undefined);
      }
      // The status page ships in the package: served with no development dependency.
      const page = await fetch(`http://127.0.0.1:${admin}/`);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(await page.text()).toContain('api/status');
      // The addon built at install is what share checks use: not the JavaScript fallback.
      const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
      const backend = /^hashrelay_sha256d_backend\{backend="([^"]+)"\} 1$/m.exec(metrics)?.[1];
      expect(
        backend,
        metrics
          .split('\n')
          .filter((line) => line.includes('sha256d'))
          .join('\n'),
      ).toMatch(/^(sha-ni|armv8-sha2|portable)$/);
      expect(existsSync(join(install.dir, 'build/Release/hashrelay_sha256d.node'))).toBe(true);
      await new Promise<void>((resolve, reject) => {
        const socket = connect(listen, '127.0.0.1', () => {
          socket.end();
          resolve();
        });
        socket.once('error', reject);
      });
      child.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
