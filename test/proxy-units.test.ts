import { describe, expect, test } from 'vitest';
import { parseHostPort, parseUpstreamUrl, redactUpstreamUrl } from '../src/config/endpoints.js';
import { ConfigError, listenerVardiff, parseProxyConfig, upstreamNames } from '../src/config/proxy-config.js';
import { concatBytes } from '../src/work/bytes.js';
import { checkShare, prepareJob } from '../src/work/share-check.js';
import { toDifficulty, toJobId } from '../src/work/types.js';
import { Vardiff } from '../src/work/vardiff.js';
import { addressKey, ConnectionsByAddress } from '../proxy/connection-limits.js';
import { ExtranonceSlots } from '../proxy/extranonce-slots.js';
import { OutputBudget } from '../proxy/output-budget.js';
import { foldJob } from '../proxy/proxy-job.js';
import type { SessionJob } from '../proxy/upstream-session.js';
import { buildOracleJob, oracleHeader } from './support/oracle.js';

describe('extranonce fold', () => {
  test("a miner's share on the folded job is exactly the upstream's share with en2 = pad ‖ slot ‖ en2", () => {
    for (const upstreamSize of [6, 7, 8]) {
      const oracle = buildOracleJob({ transactions: 9, extranonce1Size: 4, extranonce2Size: upstreamSize });
      const sessionJob: SessionJob = {
        job: oracle.job,
        difficulty: toDifficulty(1),
        generation: 0,
        receivedAt: 0,
        extranonce1: oracle.extranonce1,
        extranonce2Size: upstreamSize,
      };
      const fold = foldJob(sessionJob, toJobId('p.1'), 2, 4);
      if (!fold.ok) throw new Error(fold.problem);
      expect(fold.pad.length).toBe(upstreamSize - 6);
      expect(fold.minerJob.jobId).toBe('p.1');
      const slot = Uint8Array.from([0xab, 0xcd]);
      const minerEn2 = Uint8Array.from([1, 2, 3, 4]);
      const submission = {
        extranonce2: minerEn2,
        ntime: oracle.job.ntime,
        nonce: 12345,
        versionBits: undefined,
      };
      const difficulty = toDifficulty(2 ** -32);
      const minerView = checkShare({
        job: prepareJob(fold.minerJob, slot),
        extranonce2Size: 4,
        submission,
        versionMask: 0,
        assignedDifficulty: difficulty,
      });
      const fullEn2 = concatBytes(fold.pad, slot, minerEn2);
      const upstreamView = checkShare({
        job: prepareJob(oracle.job, oracle.extranonce1),
        extranonce2Size: upstreamSize,
        submission: { ...submission, extranonce2: fullEn2 },
        versionMask: 0,
        assignedDifficulty: difficulty,
      });
      expect(minerView.work?.hashValue).toBe(upstreamView.work?.hashValue);
      expect(minerView.work?.hashValue).toBe(
        oracleHeader(oracle, {
          extranonce2: fullEn2,
          ntime: oracle.job.ntime,
          nonce: 12345,
          version: oracle.job.version,
        }).hashValue,
      );
    }
  });

  test('an upstream extranonce2 too small for slot and miner space is refused with advice', () => {
    const oracle = buildOracleJob({ extranonce2Size: 4 });
    const fold = foldJob(
      {
        job: oracle.job,
        difficulty: toDifficulty(1),
        generation: 0,
        receivedAt: 0,
        extranonce1: oracle.extranonce1,
        extranonce2Size: 4,
      },
      toJobId('x'),
      2,
      4,
    );
    expect(fold.ok).toBe(false);
    if (!fold.ok) expect(fold.problem).toMatch(/extranonce2_size 4; hashrelay needs 6/);
  });
});

describe('extranonce slots', () => {
  test('slots are unique; a released slot with no live claim is free at once, and reused first', () => {
    const slots = new ExtranonceSlots(1);
    const taken = new Set<string>();
    for (let i = 0; i < 256; i++) taken.add(Buffer.from(slots.allocate()!).toString('hex'));
    expect(taken.size).toBe(256);
    expect(slots.allocate()).toBeUndefined();
    const session = { generation: 3, state: 'ready' };
    // Claims only on stale generations (or none at all) do not hold the slot.
    slots.release(Uint8Array.from([7]), [{ source: session, generation: 2 }]);
    expect(slots.quarantined).toBe(0);
    expect(slots.allocate()).toEqual(Uint8Array.from([7]));
    slots.release(Uint8Array.from([9]), []);
    expect(slots.allocate()).toEqual(Uint8Array.from([9]));
    expect(slots.used).toBe(256);
  });

  test('a slot claimed on live jobs is quarantined until every claimed session moves on or closes', () => {
    const slots = new ExtranonceSlots(1);
    for (let i = 0; i < 256; i++) slots.allocate();
    const a = { generation: 5, state: 'ready' };
    const b = { generation: 1, state: 'ready' };
    slots.release(Uint8Array.from([7]), [
      { source: a, generation: 5 },
      { source: a, generation: 5 },
      { source: b, generation: 1 },
    ]);
    expect(slots.quarantined).toBe(1);
    expect(slots.allocate()).toBeUndefined();
    a.generation = 6; // a clean job on a
    expect(slots.allocate()).toBeUndefined();
    b.state = 'closed';
    expect(slots.allocate()).toEqual(Uint8Array.from([7]));
    expect(slots.quarantined).toBe(0);
    // Releasing a slot that is not in use changes nothing.
    slots.release(Uint8Array.from([7]), []);
    slots.release(Uint8Array.from([7]), []);
    expect(slots.allocate()).toEqual(Uint8Array.from([7]));
    expect(slots.allocate()).toBeUndefined();
  });

  test('slot sizes outside 1..4 bytes are refused', () => {
    expect(() => new ExtranonceSlots(0)).toThrow(/1 to 4/);
    expect(new ExtranonceSlots(2).allocate()).toEqual(Uint8Array.from([0, 0]));
  });
});

describe('vardiff', () => {
  const options = {
    initialDifficulty: 1024,
    minDifficulty: 1,
    maxDifficulty: 2 ** 20,
    targetShareSeconds: 5,
    retargetSeconds: 30,
  };

  test('a miner four times too fast is raised to a power of two near the ideal', () => {
    const vardiff = new Vardiff(options, 0);
    for (let i = 0; i < 24; i++) vardiff.recordShare(1024, i * 1250); // one share every 1.25 s for 30 s
    expect(vardiff.retarget(30_000)).toBe(4096);
    expect(vardiff.current).toBe(4096);
  });

  test('hysteresis: within [½, 2] × target nothing changes', () => {
    const vardiff = new Vardiff(options, 0);
    for (let i = 0; i < 9; i++) vardiff.recordShare(1024, i * 3300); // 3.3 s per share, target 5
    expect(vardiff.retarget(30_000)).toBeUndefined();
    expect(vardiff.current).toBe(1024);
  });

  test('no retarget before the period, and bounds and floors hold', () => {
    const vardiff = new Vardiff(options, 0);
    for (let i = 0; i < 1000; i++) vardiff.recordShare(1024, i);
    expect(vardiff.retarget(10_000)).toBeUndefined();
    expect(vardiff.retarget(30_000)).toBe(2 ** 17); // ideal 170,666 → nearest power of two
    const slow = new Vardiff(options, 0);
    expect(slow.retarget(30_000)).toBe(256); // no shares: at most a 4× cut per period
    const floored = new Vardiff(options, 0);
    expect(floored.setFloor(2048, 0)).toBe(2048);
    expect(floored.retarget(30_000)).toBeUndefined(); // would go lower, but the floor holds
  });

  test('a burst of shares far faster than the target raises at once, without waiting for the period', () => {
    const burst = { ...options, burstShares: 16 };
    const fast = new Vardiff(burst, 0);
    // 10 shares a second against one per 5 s: 50× too fast.
    for (let i = 1; i < 16; i++) {
      fast.recordShare(1024, i * 100);
      expect(fast.raiseForBurst(i * 100)).toBeUndefined(); // fewer than 16 shares: not yet
    }
    fast.recordShare(1024, 1_600);
    expect(fast.raiseForBurst(1_600)).toBe(2 ** 16); // ideal 51,200 → nearest power of two
    expect(fast.lastReason).toBe('rate');
    // Shares still coming on jobs of the old difficulty weigh 1/64 each: no second raise.
    for (let i = 0; i < 100; i++) fast.recordShare(1024, 1_700 + i);
    expect(fast.raiseForBurst(1_800)).toBeUndefined();
    // 3× too fast is left to the period (the hysteresis band is the period's business).
    const brisk = new Vardiff(burst, 0);
    for (let i = 1; i <= 16; i++) brisk.recordShare(1024, i * 1_667);
    expect(brisk.raiseForBurst(16 * 1_667)).toBeUndefined();
    // Off by default and at 0.
    for (const off of [new Vardiff(options, 0), new Vardiff({ ...options, burstShares: 0 }, 0)]) {
      for (let i = 1; i <= 100; i++) off.recordShare(1024, i);
      expect(off.raiseForBurst(100)).toBeUndefined();
    }
  });

  test('silence cuts 4× without waiting for the period: sooner before the first share', () => {
    const quick = { ...options, noShareTargets: 6, firstShareTargets: 2 };
    const vardiff = new Vardiff(quick, 0);
    expect(vardiff.retarget(9_999)).toBeUndefined();
    expect(vardiff.retarget(10_000)).toBe(256); // 2 × 5 s with no share at all
    expect(vardiff.lastReason).toBe('no-share');
    expect(vardiff.retarget(20_000)).toBe(64);
    vardiff.recordShare(64, 21_000);
    expect(vardiff.retarget(40_000)).toBeUndefined(); // 19 s of silence after a share: under 6 × 5 s
    expect(vardiff.retarget(51_000)).toBe(16); // 30 s since the last share
    const off = new Vardiff({ ...options, noShareTargets: 0, firstShareTargets: 0 }, 0);
    expect(off.retarget(29_999)).toBeUndefined();
  });

  test("the miner's difficulty is where it starts; once it has shares it is only a floor", () => {
    const vardiff = new Vardiff(options, 0);
    expect(vardiff.setFloor(16, 0)).toBe(16); // below the initial 1024: the miner knows its rate
    expect(vardiff.lastReason).toBe('miner');
    vardiff.recordShare(16, 1000);
    expect(vardiff.setFloor(4, 2000)).toBeUndefined();
    expect(vardiff.current).toBe(16);
    expect(vardiff.setFloor(64, 3000)).toBe(64);
    expect(new Vardiff(options, 0).setFloor(2 ** -10, 0)).toBe(1); // within the bounds
  });
});

describe('configuration', () => {
  test('upstream URLs with user, password, TLS and IPv6', () => {
    expect(parseUpstreamUrl('stratum+tcp://acct.worker:secret@pool.example:3333')).toEqual({
      tls: false,
      host: 'pool.example',
      port: 3333,
      username: 'acct.worker',
      password: 'secret',
    });
    expect(parseUpstreamUrl('stratum+ssl://u@[::1]:443')).toMatchObject({
      tls: true,
      host: '::1',
      password: 'x',
    });
    expect(redactUpstreamUrl(parseUpstreamUrl('stratum+tcp://u:p@h:1'))).toBe('stratum+tcp://u@h:1');
    expect(() => parseUpstreamUrl('http://u@h:1')).toThrow(/scheme/);
    expect(() => parseUpstreamUrl('stratum+tcp://h:1')).toThrow(/missing USER/);
    expect(() => parseUpstreamUrl('stratum+tcp://u@h')).toThrow(/missing port/);
    expect(parseHostPort('0.0.0.0:3333')).toEqual({ host: '0.0.0.0', port: 3333 });
    expect(parseHostPort(':3333')).toEqual({ host: '0.0.0.0', port: 3333 });
    expect(() => parseHostPort('localhost')).toThrow(/HOST:PORT/);
  });

  test('defaults fill in, and every bad key is named', () => {
    const config = parseProxyConfig({
      listen: ['127.0.0.1:0'],
      upstreams: ['stratum+tcp://a@h:1', { url: 'stratum+tcp://b@h:2', name: 'backup' }],
    });
    expect(config.ledger).toBe('sqlite:./hashrelay.sqlite');
    expect(config.extranonce).toEqual({ slotBytes: 2, minerExtranonce2Size: 4 });
    expect(upstreamNames(config.upstreams)).toEqual(['h:1', 'backup']);
    expect(() =>
      parseProxyConfig({ listen: [], upstreams: ['nope'], vardiff: { minDifficulty: -1 } }),
    ).toThrow(ConfigError);
    const message = (() => {
      try {
        parseProxyConfig({ listen: [], upstreams: ['nope'], bogus: 1 });
        return 'no error';
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toMatch(/listen: at least one/);
    expect(message).toMatch(/upstreams\.0\.url: 'nope'/);
    expect(message).toMatch(/bogus/);
  });

  test('a listener may set its own starting difficulty and floor; out of bounds is named', () => {
    const base = { upstreams: ['stratum+tcp://a@h:1'] };
    const config = parseProxyConfig({
      ...base,
      listen: [
        '127.0.0.1:3333',
        { address: '127.0.0.1:3334', initialDifficulty: 0.001, minDifficulty: 0.0001 },
      ],
    });
    expect(listenerVardiff(config, config.listen[0]!)).toMatchObject({
      initialDifficulty: 65536,
      minDifficulty: 1,
    });
    expect(listenerVardiff(config, config.listen[1]!)).toMatchObject({
      initialDifficulty: 0.001,
      minDifficulty: 0.0001,
      noShareTargets: 6,
      firstShareTargets: 2,
    });
    expect(() =>
      parseProxyConfig({
        ...base,
        listen: ['127.0.0.1:3333', { address: '127.0.0.1:3334', initialDifficulty: 0.001 }],
      }),
    ).toThrow(/listen\.1: initialDifficulty 0\.001 is outside \[1, .*set listen\.1\.minDifficulty/);
  });

  test('duplicate upstream names are made unique (they label metrics)', () => {
    const config = parseProxyConfig({
      listen: [':0'],
      upstreams: ['stratum+tcp://a@h:1', 'stratum+tcp://b@h:1'],
    });
    expect(upstreamNames(config.upstreams)).toEqual(['h:1', 'h:1#2']);
  });
});

describe('connection limits', () => {
  test('addresses count per host: IPv4 as is, IPv4-mapped as IPv4, IPv6 per /64', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2::ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8::1%eth0')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
  });

  const NO_RATE = { newConnectionsPerAddressPerSecond: 0, newConnectionBurstPerAddress: 1 };

  test('an address over its limits is refused; authorizing frees an unauthenticated place', () => {
    const limits = new ConnectionsByAddress({
      ...NO_RATE,
      maxConnectionsPerAddress: 3,
      maxUnauthenticatedPerAddress: 2,
    });
    expect(limits.open(1, '198.51.100.1')).toBeUndefined();
    expect(limits.open(2, '198.51.100.1')).toBeUndefined();
    expect(limits.open(3, '198.51.100.1')?.reason).toBe('unauthenticated_per_address');
    expect(limits.open(4, '198.51.100.2')).toBeUndefined(); // another address is not affected
    limits.authenticated(1);
    expect(limits.open(5, '198.51.100.1')).toBeUndefined();
    expect(limits.open(6, '198.51.100.1')?.reason).toBe('total_per_address');
    limits.closed(2);
    limits.closed(2); // closing twice changes nothing
    expect(limits.open(7, '198.51.100.1')).toBeUndefined();
    expect(limits.open(8, '198.51.100.1')?.reason).toBe('total_per_address');
    const off = new ConnectionsByAddress({
      ...NO_RATE,
      maxConnectionsPerAddress: 0,
      maxUnauthenticatedPerAddress: 0,
    });
    for (let id = 0; id < 100; id++) expect(off.open(id, '198.51.100.1')).toBeUndefined();
  });

  test('new connections per address: a burst, then the sustained rate; closing does not refill it', () => {
    let now = 1_000_000;
    const limits = new ConnectionsByAddress(
      {
        maxConnectionsPerAddress: 0,
        maxUnauthenticatedPerAddress: 0,
        newConnectionsPerAddressPerSecond: 2,
        newConnectionBurstPerAddress: 5,
      },
      () => now,
    );
    let id = 0;
    // Open and close at once, as a host reconnecting in a loop does.
    const churn = (address: string): string | undefined => {
      const refusal = limits.open(++id, address);
      limits.closed(id);
      return refusal?.reason;
    };
    for (let i = 0; i < 5; i++) expect(churn('198.51.100.1')).toBeUndefined();
    expect(churn('198.51.100.1')).toBe('rate_per_address');
    expect(churn('198.51.100.2')).toBeUndefined(); // another address has its own bucket
    now += 500; // half a second at 2 a second: one more
    expect(churn('198.51.100.1')).toBeUndefined();
    expect(churn('198.51.100.1')).toBe('rate_per_address');
    // Addresses with nothing open are forgotten once their bucket has refilled, at the next sweep
    // (every 4,096 opens): churn from many addresses does not grow the map without bound.
    for (let i = 0; i < 2000; i++) churn(`203.0.113.${i % 200}`);
    expect(limits.addressCount).toBe(202);
    now += 10_000;
    for (let i = 0; i < 4096; i++) churn('198.51.100.9');
    expect(limits.addressCount).toBe(1);
    expect(churn('203.0.113.1')).toBeUndefined();
  });

  test('over the output budget, the largest queues are closed until the total fits; drained ones never', () => {
    const closed: string[] = [];
    const connection = (name: string, pendingWriteBytes: number) => ({
      name,
      pendingWriteBytes,
      close() {
        closed.push(name);
      },
    });
    const budget = new OutputBudget<ReturnType<typeof connection>>(100);
    const honest = connection('honest', 0);
    const slow = connection('slow', 30);
    const stuck = connection('stuck', 60);
    const worse = connection('worse', 80);
    for (const c of [honest, slow, stuck]) budget.update(c);
    expect(budget.bytes).toBe(90);
    // 'slow' flushed part of its queue without a drain event: the recount sees it before closing.
    slow.pendingWriteBytes = 5;
    budget.update(worse);
    expect(closed).toEqual(['worse']);
    expect(budget.bytes).toBe(65);
    honest.pendingWriteBytes = 50;
    budget.update(honest);
    expect(closed).toEqual(['worse', 'stuck']);
    expect(budget.bytes).toBe(55);
  });
});
