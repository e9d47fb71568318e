import { connect as dial, type Socket } from 'node:net';
import { describe, expect, test } from 'vitest';
import type { Registry } from 'prom-client';
import { RawStratumClient } from './peers/raw-client.js';
import { craftShare } from './support/craft-share.js';
import { counterValue } from './support/metric-value.js';
import { testScope } from './support/scope.js';

const DIFFICULTY = 2 ** -16;
const scope = testScope({ difficulty: DIFFICULTY });

/** Per-address limits off: tests that need many connections from 127.0.0.1 to reach the proxy. */
const NO_ADDRESS_LIMITS = {
  maxConnectionsPerAddress: 0,
  maxUnauthenticatedPerAddress: 0,
  newConnectionsPerAddressPerSecond: 0,
};

async function connectRaw(port: number, localAddress?: string): Promise<RawStratumClient> {
  const client = await RawStratumClient.connect(port, '127.0.0.1', localAddress);
  scope.defer(() => client.close());
  return client;
}

/** Subscribes (and authorizes, if asked), then closes; false if the proxy refused or hung up. */
async function subscribeAndClose(port: number, authorize: boolean): Promise<boolean> {
  const client = await RawStratumClient.connect(port);
  const hungUp = client.waitFor((c) => c.closed, 10_000, 'hang-up').then(() => false);
  try {
    const handshake = (async () => {
      await client.subscribe();
      return authorize ? client.authorize('mallory.loop') : true;
    })();
    return await Promise.race([handshake, hungUp]);
  } catch {
    return false;
  } finally {
    await client.close();
  }
}

describe('extranonce slots under subscribe-and-close loops', () => {
  test('slots of miners that never had a share credited are free at once: an honest miner still gets in', async () => {
    const pool = await scope.pool();
    // 1-byte slots: 256 miners fit, so the attack below is over three times the slot space.
    const running = await scope.proxy([pool.port], { extranonce: { slotBytes: 1, minerExtranonce2Size: 4 } });
    let handshakes = 0;
    let iterations = 0;
    const loops = Array.from({ length: 50 }, async (_, loop) => {
      while (iterations < 800) {
        iterations += 1;
        // Half the loops also authorize, so they are sent a job before they leave.
        if (await subscribeAndClose(running.port, loop % 2 === 0)) handshakes += 1;
      }
    });
    await Promise.all(loops);
    expect(handshakes).toBeGreaterThan(256);

    const honest = await scope.miner(running.port, { username: 'erin.rig1' });
    await honest.waitFor((m) => m.acceptedCount >= 2, 20_000, 'honest miner mines after the attack');
    expect(honest.violations).toEqual([]);
  });

  test('a slot with a credited share on a live job stays out of use until a clean job makes it stale', async () => {
    const pool = await scope.pool();
    const running = await scope.proxy([pool.port], {
      extranonce: { slotBytes: 1, minerExtranonce2Size: 4 },
      limits: NO_ADDRESS_LIMITS,
    });
    const worker = await connectRaw(running.port);
    await worker.subscribe();
    expect(await worker.authorize('dave.rig1')).toBe(true);
    await worker.waitFor((c) => c.jobs.length > 0, 5000, 'first job');
    expect((await worker.submit(craftShare(worker))).error).toBeNull();
    const workedSlot = Buffer.from(worker.extranonce1).toString('hex');
    await worker.close();
    await waitUntil(() => running.proxy.miners.size === 0, 'the proxy sees the close');

    // Every other slot is taken by a live connection; the worked slot is still quarantined.
    const holders: RawStratumClient[] = [];
    for (let i = 0; i < 255; i++) {
      const holder = await connectRaw(running.port);
      await holder.subscribe();
      holders.push(holder);
    }
    expect(holders.map((h) => Buffer.from(h.extranonce1).toString('hex'))).not.toContain(workedSlot);
    expect(await subscribeAndClose(running.port, false)).toBe(false);

    // A clean job: the share's job is stale, so nobody can repeat it and the slot is free again.
    const watcher = holders[0]!;
    expect(await watcher.authorize('watch.rig')).toBe(true);
    await watcher.waitFor((c) => c.jobs.length > 0, 5000, 'watcher job');
    const before = watcher.jobs.length;
    await pool.newJob({ clean: true });
    await watcher.waitFor((c) => c.jobs.length > before && c.lastJob.cleanJobs, 5000, 'clean job');
    const next = await connectRaw(running.port);
    await next.subscribe();
    expect(Buffer.from(next.extranonce1).toString('hex')).toBe(workedSlot);
  });
});

describe('per-address connection limits', () => {
  test('a host reconnecting in a loop is turned away after its burst; other hosts connect and mine', async () => {
    const pool = await scope.pool();
    const running = await scope.proxy([pool.port], {
      limits: { newConnectionsPerAddressPerSecond: 0.5, newConnectionBurstPerAddress: 3 },
    });
    const registry = running.proxy.metrics.registry;
    const honest = await scope.miner(running.port, { username: 'erin.rig1' });
    await honest.waitFor((m) => m.acceptedCount >= 1, 20_000, 'honest miner mines');

    // 127.0.0.2 connects, subscribes and hangs up, again and again.
    const outcomes: boolean[] = [];
    let told = 0;
    for (let i = 0; i < 8; i++) {
      const attacker = await connectRaw(running.port, '127.0.0.2');
      attacker.sendLine('{"id":1,"method":"mining.subscribe","params":[]}');
      await attacker.waitFor((c) => c.closed || c.log.some((l) => l.direction === 'in'), 5000, 'answer');
      // A refused connection is told why (once a second per address) or just closed.
      const inbound = attacker.log.filter((l) => l.direction === 'in');
      if (inbound.some((l) => l.line.includes('too many new connections'))) told++;
      outcomes.push(inbound.some((l) => l.line.includes('"result"')));
      await attacker.close();
    }
    expect(told).toBeGreaterThanOrEqual(1);
    // The burst (3) is let in, then at most one more in the seconds this loop takes.
    expect(outcomes.slice(0, 3)).toEqual([true, true, true]);
    expect(outcomes.filter((admitted) => !admitted).length).toBeGreaterThanOrEqual(4);
    expect(
      await counterValue(registry, 'hashrelay_connections_refused_total', { reason: 'rate_per_address' }),
    ).toBe(outcomes.filter((admitted) => !admitted).length);

    // Another host is not affected, and the honest miner keeps mining.
    const fresh = await connectRaw(running.port, '127.0.0.3');
    await fresh.subscribe();
    expect(await fresh.authorize('grace.rig')).toBe(true);
    await fresh.waitFor((c) => c.jobs.length > 0, 5000, 'fresh host gets work');
    const accepted = honest.acceptedCount;
    await honest.waitFor((m) => m.acceptedCount > accepted, 20_000, 'honest miner undisturbed');
  });

  test('connections over the per-address limits are closed at once; admitted ones keep working', async () => {
    const pool = await scope.pool();
    const running = await scope.proxy([pool.port], {
      limits: { maxConnectionsPerAddress: 8, maxUnauthenticatedPerAddress: 4 },
    });
    const registry = running.proxy.metrics.registry;
    const honest = await scope.miner(running.port, { username: 'erin.rig1' });
    await honest.waitFor((m) => m.acceptedCount >= 1, 20_000, 'honest miner mines');

    // Six connections that never authorize: four are let in, two are turned away.
    const idle: RawStratumClient[] = [];
    for (let i = 0; i < 6; i++) idle.push(await connectRaw(running.port));
    await idle[5]!.waitFor((c) => c.closed, 5000, 'over the unauthenticated limit');
    await idle[4]!.waitFor((c) => c.closed, 5000, 'over the unauthenticated limit');
    expect(idle.slice(0, 4).every((c) => !c.closed)).toBe(true);
    // The first refused is told why; the next, within the second, is just closed.
    expect(idle[4]!.log.some((l) => l.direction === 'in' && l.line.includes('client.show_message'))).toBe(
      true,
    );
    expect(
      await counterValue(registry, 'hashrelay_connections_refused_total', {
        reason: 'unauthenticated_per_address',
      }),
    ).toBe(2);

    // Once they authorize, they count only towards the total: 5 of 8, so three more fit.
    for (const client of idle.slice(0, 4)) {
      await client.subscribe();
      expect(await client.authorize('frank.rig')).toBe(true);
    }
    const more: RawStratumClient[] = [];
    for (let i = 0; i < 4; i++) more.push(await connectRaw(running.port));
    await more[3]!.waitFor((c) => c.closed, 5000, 'over the total limit');
    for (const client of more.slice(0, 3)) await client.subscribe();
    expect(more.slice(0, 3).every((c) => !c.closed)).toBe(true);
    expect(
      await counterValue(registry, 'hashrelay_connections_refused_total', { reason: 'total_per_address' }),
    ).toBe(1);

    const accepted = honest.acceptedCount;
    await honest.waitFor((m) => m.acceptedCount > accepted, 20_000, 'honest miner undisturbed');
    expect(honest.reconnects).toEqual([]);
  });
});

describe('output flood from connections that do not read', () => {
  test('total queued output stays under the budget: non-readers are closed, the honest miner keeps mining', async () => {
    const budget = 4 * 1024 * 1024;
    // A pool whose notifies are ~100 KB (a coinbase paying many outputs): the one output a
    // miner can make the proxy queue without bound is the work itself, by not reading it.
    const pool = await scope.pool({ coinbasePaddingBytes: 45_000 });
    const running = await scope.proxy([pool.port], {
      limits: {
        ...NO_ADDRESS_LIMITS,
        // Only the total budget can stop this attack: each connection alone may queue 64 MiB.
        maxPendingWriteBytes: 64 * 1024 * 1024,
        maxTotalPendingWriteBytes: budget,
      },
    });
    const honest = await scope.miner(running.port, { username: 'erin.rig1' });
    await honest.waitFor((m) => m.acceptedCount >= 1, 20_000, 'honest miner mines');

    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, running.proxy.pendingWriteBytes);
    }, 5);
    scope.defer(() => {
      clearInterval(sampler);
      return Promise.resolve();
    });

    for (let i = 0; i < 10; i++) {
      const socket = await new Promise<Socket>((resolve, reject) => {
        const s = dial({ host: '127.0.0.1', port: running.port });
        s.once('connect', () => {
          resolve(s);
        });
        s.once('error', reject);
      });
      socket.on('error', () => undefined);
      socket.pause(); // never reads
      scope.defer(() => {
        socket.destroy();
        return Promise.resolve();
      });
      socket.write(
        '{"id":1,"method":"mining.subscribe","params":[]}\n' +
          '{"id":2,"method":"mining.authorize","params":["mallory.mute","x"]}\n',
      );
    }
    await waitUntil(() => running.proxy.miners.size === 11, 'the non-readers placed', 10_000);
    // New jobs until every non-reader's socket and queue are full: each is ~100 KB to 11 miners.
    for (let job = 0; job < 400 && running.proxy.miners.size > 1; job++) await pool.newJob();
    await waitUntil(() => running.proxy.miners.size === 1, 'every non-reader closed', 30_000);
    peak = Math.max(peak, running.proxy.pendingWriteBytes);
    expect(peak).toBeLessThanOrEqual(budget);
    expect(
      await counterValue(registry(running), 'hashrelay_miner_disconnects_total', { reason: 'not_reading' }),
    ).toBe(10);

    const accepted = honest.acceptedCount;
    await honest.waitFor((m) => m.acceptedCount > accepted + 1, 20_000, 'honest miner undisturbed');
    expect(honest.reconnects).toEqual([]);
  });
});

function registry(running: { proxy: { metrics: { registry: Registry } } }): Registry {
  return running.proxy.metrics.registry;
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
