import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mnemonicGenerate, cryptoWaitReady } from '@polkadot/util-crypto';
import { afterEach, describe, expect, test } from 'vitest';
import { RawStratumClient } from './peers/raw-client.js';
import { CliProcess, type LogEvent } from './support/cli-process.js';
import { freePort } from './support/ports.js';
import { TEST_UPSTREAM } from './support/proxy-harness.js';
import { testScope } from './support/scope.js';

const DIFFICULTY = 2 ** -18;
const scope = testScope({ difficulty: DIFFICULTY });
const processes: CliProcess[] = [];
afterEach(async () => {
  for (const running of processes.splice(0)) await running.stop();
});

function tempFile(name: string, content: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'hashrelay-oplog-')), name);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

function start(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const started = CliProcess.start(args, env);
  processes.push(started);
  return started;
}

const byMessage =
  (msg: string) =>
  (event: LogEvent): boolean =>
    event.msg === msg;

describe('what an operator sees in the log', () => {
  test('miner connects, authorizes, rejected shares (summarised) and the disconnect are JSON lines with fields', async () => {
    const pool = await scope.pool();
    const dir = mkdtempSync(join(tmpdir(), 'hashrelay-oplog-'));
    const config = tempFile('proxy.json', {
      upstream: TEST_UPSTREAM,
      vardiff: { initialDifficulty: DIFFICULTY, minDifficulty: 2 ** -32 },
      rejectLogSeconds: 3,
    });
    const proxy = start([
      'proxy',
      '--listen',
      '127.0.0.1:0',
      '--upstream',
      `stratum+tcp://farm:x@127.0.0.1:${pool.port}`,
      '--ledger',
      `sqlite:${join(dir, 'ledger.sqlite')}`,
      '--config',
      config,
    ]);
    const listening = await proxy.waitForEvent(byMessage('listening for miners'), 'the listener');

    const miner = await RawStratumClient.connect(listening.port as number);
    await miner.subscribe();
    expect(await miner.authorize('alice.rig1')).toBe(true);
    await miner.waitFor((m) => m.jobs.length > 0, 10_000, 'a job');
    // Five shares on a job the proxy never sent, at once: one line at once, the rest summed later.
    const bad = { worker: 'alice.rig1', jobId: 'feed', extranonce2: new Uint8Array(4), ntime: 1, nonce: 1 };
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, nonce) => miner.submit({ ...bad, nonce })),
    );
    expect(answers.every((answer) => answer.error !== null)).toBe(true);

    const connected = await proxy.waitForEvent(byMessage('miner connected'), 'the connect line');
    expect(connected.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    const authorized = await proxy.waitForEvent(byMessage('miner authorized'), 'the authorize line');
    expect(authorized).toMatchObject({ worker: 'alice.rig1', credited: 'alice', level: 30 });
    expect(authorized.connection).toBe(connected.connection);

    const summaries = (): LogEvent[] =>
      proxy.events.filter(byMessage('miner shares rejected (counted since the last such line)'));
    const summed = (): number => summaries().reduce((sum, event) => sum + (event.total as number), 0);
    await proxy.waitForEvent(() => summed() === 5, 'five rejects summarised');
    expect(summaries().length).toBeLessThan(5);
    for (const summary of summaries()) {
      expect(summary).toMatchObject({ identity: 'alice.rig1', connection: connected.connection });
      expect(Object.keys(summary.rejects as object)).toEqual(['unknown-job']);
    }

    await miner.close();
    const disconnected = await proxy.waitForEvent(byMessage('miner disconnected'), 'the disconnect line');
    expect(disconnected).toMatchObject({
      reason: 'closed by miner',
      identity: 'alice.rig1',
      accepted: 0,
      rejected: { 'unknown-job': 5 },
      connection: connected.connection,
    });
    expect(typeof disconnected.seconds).toBe('number');

    expect(await proxy.stop('SIGTERM')).toBe(0);
    expect(proxy.nonJsonLines).toEqual([]);
  });

  test("miner-agent: @polkadot/api's console lines (a chain endpoint that refuses) come out as JSON log lines", async () => {
    await cryptoWaitReady();
    const chainPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'hashrelay-oplog-agent-'));
    const config = tempFile('farm.json', {
      chain: `ws://127.0.0.1:${chainPort}`,
      netuid: 3,
      proxy: { listen: ['127.0.0.1:0'], ledger: `sqlite:${join(dir, 'farm.sqlite')}` },
    });
    const agent = start(['miner-agent', '--config', config], {
      HASHRELAY_HOTKEY_MNEMONIC: mnemonicGenerate(),
    });
    const line = await agent.waitForEvent(
      (event) => event.origin === 'API-WS' && String(event.msg).includes('disconnected'),
      "polkadot's API-WS disconnect line",
    );
    expect(line).toMatchObject({ component: 'polkadot', level: 50 });
    expect(line.msg).toContain(`127.0.0.1:${chainPort}`);
    await agent.stop();
    expect(agent.nonJsonLines).toEqual([]);
    expect(agent.stderr).not.toContain('API-WS');
  });
});
