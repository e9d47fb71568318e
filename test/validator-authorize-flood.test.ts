import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { connect as dial, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyringPair } from '@polkadot/keyring/types';
import { encodeAddress } from '@polkadot/util-crypto';
import type { Registry } from 'prom-client';
import { beforeAll, describe, expect, test } from 'vitest';
import { signAuthorize } from '../src/chain/authorize-proof.js';
import { parseProxyConfig } from '../src/config/proxy-config.js';
import { openSqliteLedger } from '../src/ledger/sqlite-ledger.js';
import { silentLogger } from '../src/log/logger.js';
import { ProxyMetrics } from '../src/metrics/proxy-metrics.js';
import { LineFramer } from '../src/stratum/line-framer.js';
import { Proxy } from '../proxy/proxy.js';
import { ValidatorAdmission } from '../validator/admission.js';
import { devKeys } from './support/keys.js';
import { testConfig } from './support/proxy-harness.js';
import { testScope } from './support/scope.js';

const DIFFICULTY = 2 ** -18;
const scope = testScope({ difficulty: DIFFICULTY });
/** Attackers dial from these loopback addresses; the honest miners from 127.0.0.1. */
const ATTACKER_ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
const CONNECTIONS_PER_ADDRESS = 5;
const BUDGET = { perAddressPerSecond: 2, perAddressBurst: 4, perSecond: 1000, burst: 1000 };

let validator: KeyringPair;
let honest: KeyringPair;
beforeAll(async () => {
  [validator, honest] = (await devKeys('FloodValidator', 'FloodMiner')) as [KeyringPair, KeyringPair];
});

/** One attacker connection's life: what it sent, the refusals it got, and whether the test hung up. */
interface AttackRecord {
  sent: number;
  refusals: string[];
  hungUpByTest: boolean;
}

/** The flood's control: no new connections once `done`; `hangingUp` when the test ends them. */
interface Flood {
  done: boolean;
  hangingUp: boolean;
  /** Open attacker sockets, so a failing test can end them. */
  readonly sockets: Set<Socket>;
}

/** A forged authorize: a random or a real registered hotkey, a fresh timestamp, a random signature. */
function forgedAuthorize(id: number): string {
  const hotkey = id % 2 === 0 ? honest.address : encodeAddress(randomBytes(32), 42);
  const password = `t=${Math.floor(Date.now() / 1000)},sig=0x${randomBytes(64).toString('hex')}`;
  return `${JSON.stringify({ id, method: 'mining.authorize', params: [`${hotkey}.rig`, password] })}\n`;
}

/**
 * One attacker connection from `localAddress`: a pipelined burst of forged authorizes, then one
 * every 25 ms (40/s). It never hangs up: it ends when the validator closes it.
 */
function attackOnce(port: number, localAddress: string, flood: Flood): Promise<AttackRecord> {
  return new Promise((resolve) => {
    const record: AttackRecord = { sent: 0, refusals: [], hungUpByTest: false };
    const framer = new LineFramer({ maxLineLength: 64 * 1024 });
    const socket = dial({ host: '127.0.0.1', port, localAddress });
    flood.sockets.add(socket);
    let timer: NodeJS.Timeout | undefined;
    const send = (count: number): void => {
      let lines = '';
      for (let i = 0; i < count; i++) lines += forgedAuthorize(++record.sent);
      socket.write(lines);
    };
    socket.on('connect', () => {
      send(5);
      timer = setInterval(() => {
        send(1);
      }, 25);
    });
    socket.on('data', (chunk: Buffer) => {
      for (const line of framer.push(chunk).lines) {
        const reply = JSON.parse(line) as { error?: [number, string, unknown] | null };
        if (reply.error) record.refusals.push(reply.error[1]);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      flood.sockets.delete(socket);
      record.hungUpByTest = flood.hangingUp;
      resolve(record);
    });
  });
}

async function counterValues(registry: Registry, name: string): Promise<Map<string, number>> {
  const metric = registry.getSingleMetric(name);
  const values = new Map<string, number>();
  if (metric === undefined) return values;
  for (const value of (await metric.get()).values)
    values.set(Object.values(value.labels).join(','), value.value);
  return values;
}

async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('validator: forged-signature authorize flood', () => {
  test('attackers are closed after a few failed authorizes, verifications stay within the per-address budget, the honest miner keeps mining', async () => {
    const pool = await scope.pool();
    const ledger = await openSqliteLedger(join(mkdtempSync(join(tmpdir(), 'hashrelay-flood-')), 'l.sqlite'));
    const metrics = new ProxyMetrics(undefined, { defaultMetrics: false });
    const admission = new ValidatorAdmission({
      validatorHotkey: validator.address,
      registered: [honest.address],
      unregistered: 'forward', // the config default: random hotkeys cannot be refused before verifying
      logger: silentLogger(),
      registry: metrics.registry,
      verifications: BUDGET,
    });
    const config = parseProxyConfig(
      testConfig([pool.port], {
        vardiff: {
          initialDifficulty: DIFFICULTY,
          minDifficulty: 2 ** -32,
          maxDifficulty: 1,
          targetShareSeconds: 3.3,
          retargetSeconds: 100_000,
          burstShares: 0,
          honourMinerFloor: false,
        },
      }),
    );
    const maxFailures = config.limits.maxFailedAuthorizes;
    const proxy = new Proxy({ config, ledger, logger: silentLogger(), metrics, admission });
    const [bound] = await proxy.start();
    const port = bound!.port;
    scope.defer(async () => {
      await proxy.drain();
      await ledger.close();
    });

    const signed = (worker: string) => {
      const credentials = signAuthorize(honest, validator.address, Math.floor(Date.now() / 1000), worker);
      return { username: credentials.username, password: credentials.password };
    };
    const first = await scope.miner(port, {
      ...signed('rig1'),
      maxSharesPerSecond: 20,
      handshakeTimeoutMs: 20_000,
      sniff: false,
    });
    await first.waitFor((m) => m.acceptedCount >= 3, 30_000, 'honest shares before the flood');

    const flood: Flood = { done: false, hangingUp: false, sockets: new Set() };
    const records: AttackRecord[][] = [];
    const startedAt = Date.now();
    const loops = ATTACKER_ADDRESSES.flatMap((address) =>
      Array.from({ length: CONNECTIONS_PER_ADDRESS }, async () => {
        const mine: AttackRecord[] = [];
        records.push(mine);
        while (!flood.done) mine.push(await attackOnce(port, address, flood));
      }),
    );
    try {
      const acceptedAtFlood = first.acceptedCount;
      // Every attacker has been thrown out at least twice, and honest work went on meanwhile.
      await until(
        () =>
          records.length === ATTACKER_ADDRESSES.length * CONNECTIONS_PER_ADDRESS &&
          records.every((mine) => mine.length >= 2),
        30_000,
        'every attacker connection closed by the validator twice',
      );
      // A new honest connection during the flood is admitted (its address has its own budget).
      const second = await scope.miner(port, {
        ...signed('rig2'),
        maxSharesPerSecond: 20,
        handshakeTimeoutMs: 20_000,
        sniff: false,
      });
      await second.waitFor((m) => m.acceptedCount >= 5, 30_000, 'shares from the miner admitted mid-flood');
      await first.waitFor(
        (m) => m.acceptedCount >= acceptedAtFlood + 10,
        30_000,
        'honest shares during the flood',
      );
      expect(first.connected && second.connected).toBe(true);
      expect(first.rejectedCount + second.rejectedCount).toBe(0);

      const verifications = await counterValues(
        metrics.registry,
        'hashrelay_validator_signature_verifications_total',
      );
      const elapsedSeconds = (Date.now() - startedAt) / 1000;
      const verified = [...verifications.values()].reduce((a, b) => a + b, 0);
      // Each attacker address: at most its burst plus its rate; plus the two honest authorizes.
      const budget =
        ATTACKER_ADDRESSES.length * (BUDGET.perAddressBurst + BUDGET.perAddressPerSecond * elapsedSeconds) +
        2;
      expect(verified).toBeGreaterThan(0);
      expect(verified).toBeLessThanOrEqual(budget);
      const admissions = await counterValues(metrics.registry, 'hashrelay_validator_admissions_total');
      expect(admissions.get('rejected_over_budget')).toBeGreaterThan(0);
      expect(admissions.get('accepted')).toBe(2);
    } finally {
      // No new attacker connections; the open ones go on until the validator closes them (or,
      // when it never does, the test hangs up after a while so the failure is reported).
      flood.done = true;
      const ended = Promise.all(loops);
      await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      flood.hangingUp = true;
      for (const socket of flood.sockets) socket.destroy();
      await ended;
    }

    const connections = records.flat();
    for (const record of connections) {
      expect(record.hungUpByTest).toBe(false);
      expect(record.refusals).toHaveLength(maxFailures);
      for (const refusal of record.refusals)
        expect(refusal).toMatch(/does not verify|too many authorize attempts from this address/);
    }
    const disconnects = await counterValues(metrics.registry, 'hashrelay_miner_disconnects_total');
    expect(disconnects.get('failed_authorize')).toBe(connections.length);
    expect(pool.rejectedCount).toBe(0);
  }, 90_000);
});
