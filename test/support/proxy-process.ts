import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openSqliteLedger } from '../../src/ledger/sqlite-ledger.js';
import type { MinerSubmit } from '../peers/cpu-miner.js';
import { CLI } from './cli.js';
import { ledgerShares, shareKey, testConfig } from './proxy-harness.js';

/** `hashrelay proxy` as a child process, as an operator runs it. */
export interface ProxyProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly metricsPort: number | undefined;
  readonly exited: Promise<number | null>;
}

/**
 * Starts `hashrelay proxy` as an operator would and reads its bound port from the JSON log;
 * pushes onto `cleanups` what kills it.
 */
export async function spawnProxy(
  poolPort: number,
  ledgerPath: string,
  cleanups: (() => Promise<void>)[],
  metrics = false,
): Promise<ProxyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'hashrelay-cfg-'));
  const configPath = join(dir, 'proxy.json');
  const { vardiff, upstream } = testConfig([poolPort]);
  writeFileSync(
    configPath,
    JSON.stringify({ vardiff: { ...vardiff, initialDifficulty: 2 ** -18 }, upstream }),
  );
  const args = [
    CLI,
    'proxy',
    '--listen',
    '127.0.0.1:0',
    '--upstream',
    `stratum+tcp://farm:x@127.0.0.1:${poolPort}`,
    '--ledger',
    `sqlite:${ledgerPath}`,
    '--config',
    configPath,
  ];
  if (metrics) args.push('--metrics', '127.0.0.1:0');
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, HASHRELAY_LOG_FORMAT: 'json' },
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      resolve(code);
    }),
  );
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const lines = createInterface({ input: child.stdout });
  let port: number | undefined;
  let metricsPort: number | undefined;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error('proxy did not report its port'));
    }, 15_000);
    lines.on('line', (line) => {
      const event = JSON.parse(line) as { msg?: string; port?: number; address?: { port?: number } };
      if (event.msg === 'listening for miners') port = event.port;
      if (event.msg?.startsWith('admin listener') === true) metricsPort = event.address?.port;
      if (port !== undefined && (!metrics || metricsPort !== undefined)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { child, port: port!, metricsPort, exited };
}

/**
 * Of the submits a miner was told `true`, how many there were and which are not in the ledger
 * file at `ledgerPath` (opened as its writer: nobody else may hold it).
 */
export async function acknowledgedMissing(
  ledgerPath: string,
  submits: readonly MinerSubmit[],
): Promise<{ acknowledged: number; missing: string[] }> {
  const ledger = await openSqliteLedger(ledgerPath);
  try {
    const stored = new Set(
      (await ledgerShares(ledger))
        .filter((s) => s.verdict === 'accepted')
        .map((s) =>
          shareKey(
            s.proxyJobId ?? '',
            Buffer.from(s.extranonce2).toString('hex').slice(-8),
            s.ntime,
            s.nonce,
          ),
        ),
    );
    let acknowledged = 0;
    const missing: string[] = [];
    for (const submit of submits) {
      if (submit.reply !== true) continue;
      acknowledged += 1;
      const key = shareKey(submit.jobId, submit.extranonce2, submit.ntime, submit.nonce);
      if (!stored.has(key)) missing.push(key);
    }
    return { acknowledged, missing };
  } finally {
    await ledger.close();
  }
}
