import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import type { Hotkey } from '../src/chain/hotkey.js';
import { MemoryChain } from '../src/chain/memory-chain.js';
import type { Ledger, StoredShare } from '../src/ledger/ledger.js';
import { openPgLedger } from '../src/ledger/pg-ledger.js';
import { scoreWindow } from '../validator/scoring.js';
import { CpuMiner, type MinerSubmit } from './peers/cpu-miner.js';
import { TestPool } from './peers/test-pool.js';
import { CLI } from './support/cli.js';
import { haproxyMissing, startHaproxy } from './support/haproxy.js';
import { devKeys } from './support/keys.js';
import { testPostgres } from './support/postgres.js';
import { shareKey, testConfig } from './support/proxy-harness.js';
import { skipNote } from './support/skip-note.js';

/**
 * Scale-out: two `hashrelay proxy` processes behind one HAProxy address (TCP mode, /readyz
 * health checks) write one PostgreSQL ledger. One instance is killed with SIGKILL mid-stream;
 * its miners reconnect through HAProxy to the other. Every share a miner was told `true` is in
 * the ledger exactly once, and the validator's scores from that ledger are each identity's
 * credited work, no more and no less.
 */

const DIFFICULTY = 2 ** -18;
const NETUID = 7;

const missing = haproxyMissing();
const found = missing === undefined ? await testPostgres() : missing;
const postgres = typeof found === 'string' ? null : found;
if (typeof found === 'string') console.warn(`skipping the scale-out test: ${found}`);
afterAll(async () => {
  await postgres?.release();
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

interface Instance {
  readonly name: string;
  readonly child: ChildProcess;
  readonly port: number;
  readonly adminPort: number;
  readonly exited: Promise<number | null>;
}

/**
 * Starts `hashrelay proxy` on the shared ledger. Each instance names its upstream after itself
 * (`via-NAME`), so a ledger row tells which instance wrote it (session ids repeat across processes).
 */
async function spawnInstance(name: string, poolPort: number, ledgerUrl: string): Promise<Instance> {
  const dir = mkdtempSync(join(tmpdir(), 'hashrelay-scale-'));
  cleanups.push(() => {
    rmSync(dir, { recursive: true, force: true });
    return Promise.resolve();
  });
  const configPath = join(dir, 'proxy.json');
  const { vardiff, upstream } = testConfig([poolPort]);
  writeFileSync(
    configPath,
    JSON.stringify({
      upstreams: [{ url: `stratum+tcp://farm.${name}:x@127.0.0.1:${poolPort}`, name: `via-${name}` }],
      vardiff: { ...vardiff, initialDifficulty: DIFFICULTY },
      upstream,
    }),
  );
  const args = [CLI, 'proxy', '--listen', '127.0.0.1:0', '--metrics', '127.0.0.1:0'];
  args.push('--ledger', ledgerUrl, '--config', configPath);
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, HASHRELAY_LOG_FORMAT: 'json' },
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  let port: number | undefined;
  let adminPort: number | undefined;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`proxy ${name} did not report its ports within 15 s`));
    }, 15_000);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`proxy ${name} exited (${code}) before listening`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const event = JSON.parse(line) as { msg?: string; port?: number; address?: { port?: number } };
      if (event.msg === 'listening for miners') port = event.port;
      if (event.msg?.startsWith('admin listener') === true) adminPort = event.address?.port;
      if (port !== undefined && adminPort !== undefined) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { name, child, port: port!, adminPort: adminPort!, exited };
}

/** The instance's `hashrelay_shares_total{verdict="accepted"}`. */
async function acceptedOn(instance: Instance): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${instance.adminPort}/metrics`)).text();
  const match = /^hashrelay_shares_total\{verdict="accepted"\} (\d+)/m.exec(text);
  return match === null ? 0 : Number(match[1]);
}

async function until(
  what: string,
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A ledger share's key as its miner knows it: identity, proxy job id, miner extranonce2, ntime, nonce. */
async function ledgerKeys(ledger: Ledger, shares: readonly StoredShare[]): Promise<Map<StoredShare, string>> {
  const proxyJobIds = new Map<number, string>();
  const keys = new Map<StoredShare, string>();
  for (const share of shares) {
    if (share.jobId === null) continue;
    let proxyJobId = proxyJobIds.get(share.jobId);
    if (proxyJobId === undefined) {
      const job = await ledger.job(share.jobId);
      expect(job, `job ${share.jobId} of share ${share.id}`).toBeDefined();
      proxyJobId = job!.proxyJobId;
      proxyJobIds.set(share.jobId, proxyJobId);
    }
    // The upstream extranonce2 is pad ‖ miner slot ‖ the miner's own 4 bytes.
    const minerExtranonce2 = Buffer.from(share.extranonce2).toString('hex').slice(-8);
    keys.set(share, `${share.miner}:${shareKey(proxyJobId, minerExtranonce2, share.ntime, share.nonce)}`);
  }
  return keys;
}

function submitKey(identity: string, submit: MinerSubmit): string {
  return `${identity}:${shareKey(submit.jobId, submit.extranonce2, submit.ntime, submit.nonce)}`;
}

describe.skipIf(postgres === null)(
  `scale-out: two proxy instances behind HAProxy, one PostgreSQL ledger${skipNote(typeof found === 'string' ? found : null)}`,
  () => {
    test('kill -9 one instance: its miners move to the other, nothing lost or counted twice, scores exact', async () => {
      const pg = postgres!;
      const startedAt = Date.now();
      const pool = await TestPool.start({ difficulty: DIFFICULTY, sniff: false });
      cleanups.push(() => pool.stop());

      // The validator's ledger: opened first, so the schema exists before both instances race to create it.
      const ledgerUrl = pg.urlFor(pg.freshSchema());
      const ledger = await openPgLedger(ledgerUrl);
      cleanups.push(() => ledger.close());

      const [a, b] = await Promise.all([
        spawnInstance('a', pool.port, ledgerUrl),
        spawnInstance('b', pool.port, ledgerUrl),
      ]);
      for (const instance of [a, b]) {
        await until(`${instance.name} ready`, async () => {
          const res = await fetch(`http://127.0.0.1:${instance.adminPort}/readyz`);
          return res.status === 200;
        });
      }
      const haproxy = await startHaproxy([
        { name: 'a', port: a.port, adminPort: a.adminPort },
        { name: 'b', port: b.port, adminPort: b.adminPort },
      ]);
      cleanups.push(() => haproxy.stop());

      // Three hotkeys, two rigs each: identity = the username's account part.
      const keys = await devKeys('Alice', 'Bob', 'Charlie');
      const miners: { miner: CpuMiner; identity: string }[] = [];
      for (const key of keys) {
        for (const rig of ['rig1', 'rig2']) {
          const miner = await CpuMiner.connect({
            port: haproxy.port,
            username: `${key.address}.${rig}`,
            sniff: false,
            reconnectAfterMs: 100,
            name: `${key.address.slice(0, 6)}.${rig}`,
          });
          cleanups.push(() => miner.close());
          miners.push({ miner, identity: key.address });
        }
      }
      const accepted = (): number => miners.reduce((sum, { miner }) => sum + miner.acceptedCount, 0);

      // Both instances carry miners and commit shares before one dies.
      await until(
        'both instances accepting and 30 acknowledged shares',
        async () => accepted() >= 30 && (await acceptedOn(a)) >= 5 && (await acceptedOn(b)) >= 5,
      );
      a.child.kill('SIGKILL');
      await a.exited;
      const killedAt = Date.now();
      const acceptedBefore = new Map(miners.map(({ miner }) => [miner, miner.acceptedCount]));

      // a's miners reconnect through the same address and land on b.
      await haproxy.waitFor('DOWN', ['a']);
      const moved = miners.filter(({ miner }) => miner.reconnects.length > 0);
      expect(moved.length).toBeGreaterThan(0);
      expect(moved.length).toBeLessThan(miners.length);
      await until(
        'every moved miner acknowledged again on b',
        () =>
          moved.every(
            ({ miner }) =>
              miner.connected &&
              miner.submits.some((s) => s.reply === true && s.sentAt > killedAt) &&
              miner.acceptedCount >= acceptedBefore.get(miner)! + 3,
          ) && accepted() >= [...acceptedBefore.values()].reduce((x, y) => x + y, 0) + 30,
      );

      // Stop: miners pause, b drains (in-flight shares commit and are answered), then all close.
      for (const { miner } of miners) miner.pause();
      b.child.kill('SIGTERM');
      expect(await b.exited).toBe(0);
      for (const { miner } of miners) await miner.close();
      await haproxy.stop();
      const window = { from: startedAt, to: Date.now() + 1 };

      const stored = await ledger.shares(window);
      const keysOf = await ledgerKeys(ledger, stored);
      // No share id written twice, and the instances' ids never collide.
      const ids = stored.map((s) => s.id);
      expect(new Set(ids).size).toBe(ids.length);
      const byInstance = new Map<string, Set<number>>();
      for (const share of stored) {
        const set = byInstance.get(share.upstream) ?? new Set<number>();
        set.add(share.id);
        byInstance.set(share.upstream, set);
      }
      expect([...byInstance.keys()].sort()).toEqual(['via-a', 'via-b']);
      const idsA = byInstance.get('via-a')!;
      expect([...byInstance.get('via-b')!].filter((id) => idsA.has(id))).toEqual([]);

      // Accepted shares: each key once, and each one a share some miner really submitted.
      const acceptedRows = stored.filter((s) => s.verdict === 'accepted');
      const rowByKey = new Map<string, StoredShare>();
      for (const share of acceptedRows) {
        const key = keysOf.get(share);
        expect(key, `accepted share ${share.id} names no job`).toBeDefined();
        expect(rowByKey.has(key!), `share ${key!} accepted twice`).toBe(false);
        rowByKey.set(key!, share);
      }
      const submitted = new Map<string, MinerSubmit>();
      for (const { miner, identity } of miners)
        for (const submit of miner.submits) submitted.set(submitKey(identity, submit), submit);
      expect([...rowByKey.keys()].filter((key) => !submitted.has(key))).toEqual([]);

      // Every acknowledged share is in the ledger, credited the difficulty the miner worked at.
      const expected = new Map<string, number>();
      let acknowledged = 0;
      const lost: string[] = [];
      for (const { miner, identity } of miners) {
        for (const submit of miner.submits) {
          if (submit.reply !== true) continue;
          acknowledged += 1;
          const key = submitKey(identity, submit);
          const row = rowByKey.get(key);
          if (row === undefined) lost.push(key);
          else expect(row.assignedDifficulty).toBe(submit.difficulty);
          expected.set(identity, (expected.get(identity) ?? 0) + submit.difficulty);
        }
      }
      expect(lost).toEqual([]);
      expect(acknowledged).toBeGreaterThanOrEqual(60);

      // Committed but never answered: only shares in flight on a when it died (the miner did the work).
      const unanswered = acceptedRows.filter((s) => submitted.get(keysOf.get(s)!)!.reply !== true);
      for (const share of unanswered) {
        expect(share.upstream).toBe('via-a');
        expect(submitted.get(keysOf.get(share)!)!.reply).toBeUndefined();
        expected.set(share.miner, (expected.get(share.miner) ?? 0) + share.assignedDifficulty);
      }
      console.info(
        `scale-out: ${acknowledged} acknowledged shares (${idsA.size} rows from a, ` +
          `${byInstance.get('via-b')!.size} from b), ${moved.length} miners moved, ` +
          `${unanswered.length} committed but unanswered at the kill, ${Date.now() - startedAt} ms`,
      );

      // The validator scores from the shared ledger: each identity exactly its credited work.
      const chain = new MemoryChain();
      chain.addSubnet(NETUID);
      const uidOf = new Map(
        keys.map((key) => [
          key.address,
          chain.register(NETUID, key.address as Hotkey, { stake: 1n, validatorPermit: false }),
        ]),
      );
      const scores = await scoreWindow(ledger, window, await chain.metagraph(NETUID));
      expect(scores.burn).toBe(false);
      expect(scores.uncredited).toEqual({ marked: 0, notInMetagraph: 0 });
      expect(new Map([...scores.scores].map(([uid, score]) => [uid, score]))).toEqual(
        new Map(keys.map((key) => [uidOf.get(key.address)!, expected.get(key.address)!])),
      );

      // Nothing else went wrong on the miners' side but reconnects HAProxy refused mid-failover.
      const violations = miners.flatMap(({ miner }) =>
        miner.violations.filter((v) => !v.message.startsWith('reconnect to')).map((v) => v.message),
      );
      expect(violations).toEqual([]);
    });
  },
);
