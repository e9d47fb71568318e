import net from 'node:net';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { ApiPromise } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/types';
import type { EventRecord } from '@polkadot/types/interfaces';
import { u8aToHex } from '@polkadot/util';
import { cryptoWaitReady, mnemonicGenerate } from '@polkadot/util-crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevnet, type Devnet } from '../cli/devnet-command.js';
import { ChainError, type NetUid } from '../src/chain/chain.js';
import { poolChainError } from '../src/chain/chain-errors.js';
import { epochIndex } from '../src/chain/epoch.js';
import { commitHash, randomSalt } from '../src/chain/commit-hash.js';
import { commitmentInfoForText, textOfCommitmentFields } from '../src/chain/commitment-data.js';
import type { Hotkey } from '../src/chain/hotkey.js';
import { PolkadotChain } from '../src/chain/polkadot-chain.js';
import { deriveSignedExtensions } from '../src/chain/signed-extensions.js';
import { encryptWeightsPayload } from '../src/chain/timelocked-weights.js';
import { silentLogger } from '../src/log/logger.js';
import { QUICKNET_ROUND_1000 } from './support/drand-beacon.js';
import { devRpc, devSetStorage } from './support/devnet-rpc.js';
import { runWholeLoop, vectorKey, type LoopKey } from './support/chain-loop.js';
import { skipNote } from './support/skip-note.js';

/**
 * The `@polkadot/api` chain client against a real subtensor runtime running under chopsticks.
 * The runtime is not on npm: point HASHRELAY_SUBTENSOR_SPEC at a chain spec (raw or plain) of a
 * fast-blocks dev runtime where //Alice is sudo, e.g. the `aura-dev.json` in opentensor/subtensor's
 * git history (see CHAIN.md, "A real chain for tests").
 */
const SPEC = process.env.HASHRELAY_SUBTENSOR_SPEC;
/** chopsticks builds a subtensor block in 1–4 s here; commit-reveal waits up to three epochs. */
const CHAIN_TEST_TIMEOUT_MS = 600_000;
if (SPEC === undefined || SPEC === '') {
  console.warn(
    'test/chain-polkadot.test.ts: the real-runtime tests are skipped; set HASHRELAY_SUBTENSOR_SPEC=/path/to/subtensor-chain-spec.json to run them (CHAIN.md, "A real chain for tests")',
  );
}

describe('PolkadotChain without a chain', () => {
  it('fails to connect with a retryable Disconnected naming the endpoint', async () => {
    const attempt = PolkadotChain.connect('ws://127.0.0.1:9', {
      logger: silentLogger(),
      connectTimeoutMs: 1_500,
      reconnectDelayMs: 200,
    });
    const error = await attempt.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ChainError);
    expect(error).toMatchObject({ chainError: 'Disconnected', retryable: true });
    expect((error as Error).message).toContain('ws://127.0.0.1:9');
  });

  it('names transaction-pool rejections, subtensor custom codes included', () => {
    expect(poolChainError('1014: Priority is too low: (0 vs 0)', 'x')).toMatchObject({
      chainError: 'Priority',
      retryable: true,
    });
    expect(poolChainError('1010: Invalid Transaction: Custom error: 6', 'x')).toMatchObject({
      chainError: 'RateLimitExceeded',
      retryable: true,
    });
    expect(poolChainError('1010: Invalid Transaction: Transaction has a bad signature', 'x')).toMatchObject({
      chainError: 'BadProof',
      retryable: false,
    });
    expect(poolChainError('1010: Invalid Transaction: Transaction is outdated', 'x').chainError).toBe(
      'Stale',
    );
  });

  it("names mainnet's pool codes for weight calls, with their meaning and retry behaviour", () => {
    const codes = [
      [17, 'CommitBlockNotInRevealRange', true, /reveal epoch/],
      [16, 'CommitNotFound', false, /NoWeightsCommitFound/],
      [15, 'InvalidRevealRound', false, /LastStoredRound/],
      [19, 'UidNotFound', false, /HotKeyNotRegisteredInSubNet/],
      [1, 'StakeAmountTooLow', false, /StakeThreshold/],
    ] as const;
    for (const [code, name, retryable, meaning] of codes) {
      const error = poolChainError(`1010: Invalid Transaction: Custom error: ${code}`, 'reveal_weights');
      expect(error).toMatchObject({ chainError: name, retryable });
      expect(error.message).toMatch(meaning);
    }
  });

  it('round-trips commitment text through Raw fields and rejects text over 128 bytes', () => {
    const info = commitmentInfoForText('stratum+tcp://validator.example:3333');
    const field = info.fields[0]!;
    expect(Object.keys(field)).toEqual(['Raw36']);
    const bytes = Buffer.from(field.Raw36!.slice(2), 'hex');
    expect(textOfCommitmentFields([{ variant: 'Raw36', bytes }])).toBe(
      'stratum+tcp://validator.example:3333',
    );
    expect(textOfCommitmentFields([{ variant: 'Sha256', bytes: new Uint8Array(32) }])).toBeUndefined();
    expect(() => commitmentInfoForText('x'.repeat(129))).toThrow(/at most 128/);
  });
});

const REAL_RUNTIME = `PolkadotChain against a subtensor runtime${skipNote(SPEC === undefined || SPEC === '' ? 'HASHRELAY_SUBTENSOR_SPEC=/path/to/subtensor-chain-spec.json (CHAIN.md)' : null)}`;
describe.skipIf(SPEC === undefined || SPEC === '')(REAL_RUNTIME, () => {
  let devnet: Devnet;
  let chain: PolkadotChain;
  let api: ApiPromise;
  let alice: KeyringPair;
  let bob: KeyringPair;
  let ownerHot: KeyringPair;
  let validatorHot: KeyringPair;
  let minerHot: KeyringPair;
  let netuid: NetUid;
  // The whole loop's keys: hotkeys the commands load from BIP-39 mnemonics.
  let loopValidators: Record<'hash' | 'timelocked', LoopKey>;
  let loopFarms: LoopKey[];
  const timings: Record<string, number> = {};
  // Closed in reverse order, and only what beforeAll got to open.
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    await cryptoWaitReady();
    const ring = new Keyring({ type: 'sr25519', ss58Format: 42 });
    alice = ring.addFromUri('//Alice');
    bob = ring.addFromUri('//Bob');
    ownerHot = ring.addFromUri('//Alice//subnet-owner-hotkey');
    validatorHot = ring.addFromUri('//Alice//validator-hotkey');
    minerHot = ring.addFromUri('//Bob//miner-hotkey');
    const loopKey = (): LoopKey => {
      const mnemonic = mnemonicGenerate();
      return { mnemonic, pair: ring.addFromMnemonic(mnemonic) };
    };
    loopValidators = { hash: loopKey(), timelocked: loopKey() };
    loopFarms = [loopKey(), loopKey()];
    const loopValidatorHots = Object.values(loopValidators).map(({ pair }) => pair);

    let started = Date.now();
    devnet = await startDevnet({ spec: SPEC!, port: 0, logLevel: 'warn' });
    cleanups.unshift(() => devnet.close());
    timings.startChopsticksMs = Date.now() - started;
    started = Date.now();
    chain = await PolkadotChain.connect(devnet.endpoint, { logger: silentLogger() });
    cleanups.unshift(() => chain.close());
    api = chain.api;
    timings.connectMs = Date.now() - started;

    started = Date.now();
    const tx = api.tx as unknown as Record<string, Record<string, (...args: unknown[]) => Extrinsic>>;
    const subtensor = tx.subtensorModule!;
    const admin = tx.adminUtils!;
    const sudo = (call: Extrinsic): Promise<EventRecord[]> => send(api, alice, tx.sudo!.sudo!(call), true);

    // Batched so the set-up takes few blocks (chopsticks builds one per submission, 1–7 s each).
    // Hotkeys need an account (a provider) for their nonce and the commitment deposit.
    await send(
      api,
      alice,
      tx.utility!.batchAll!([
        ...[ownerHot, validatorHot, minerHot, ...loopValidatorHots].map((hot) =>
          tx.balances!.transferKeepAlive!(hot.address, 10_000_000_000_000n),
        ),
        tx.sudo!.sudo!(admin.sudoSetNetworkRateLimit!(0)),
      ]),
      true,
    );
    const added = await send(api, alice, subtensor.registerNetwork!(ownerHot.address));
    const networkAdded = added.find(
      ({ event }) => event.section === 'subtensorModule' && event.method === 'NetworkAdded',
    );
    netuid = Number(networkAdded!.event.data[0]!.toString());
    await startCall(api, devnet, alice, subtensor.startCall!(netuid));
    // Commit-reveal explicitly on: its default for a new subnet differs between runtimes.
    await sudo(
      tx.utility!.batchAll!([
        admin.sudoSetTempo!(netuid, 10),
        admin.sudoSetWeightsSetRateLimit!(netuid, 0),
        admin.sudoSetMinAllowedWeights!(netuid, 1),
        admin.sudoSetStakeThreshold!(0),
        admin.sudoSetCommitRevealWeightsEnabled!(netuid, true),
        // Every neuron below registers in one block.
        admin.sudoSetMaxRegistrationsPerBlock!(netuid, 16),
        admin.sudoSetTargetRegistrationsPerInterval!(netuid, 16),
      ]),
    );
    await send(
      api,
      alice,
      tx.utility!.batchAll!(
        [validatorHot, ...loopValidatorHots].flatMap((hot) => [
          subtensor.burnedRegister!(netuid, hot.address),
          subtensor.addStake!(hot.address, netuid, 100_000_000_000n),
        ]),
      ),
    );
    await send(
      api,
      bob,
      tx.utility!.batchAll!(
        [minerHot, ...loopFarms.map(({ pair }) => pair)].map((hot) =>
          subtensor.burnedRegister!(netuid, hot.address),
        ),
      ),
    );
    timings.subnetSetupMs = Date.now() - started;

    started = Date.now();
    let blocks = 0;
    for (; blocks < 60; blocks++) {
      const graph = await chain.metagraph(netuid);
      const permitted = new Set(
        graph.neurons.flatMap((n) => (n.validatorPermit ? [n.hotkey as string] : [])),
      );
      if ([validatorHot, ...loopValidatorHots].every((hot) => permitted.has(hot.address))) break;
      await devnet.newBlocks(1);
    }
    timings.blocksUntilPermit = blocks;
    timings.untilPermitMs = Date.now() - started;
  }, 600_000);

  afterAll(async () => {
    console.info('chain-polkadot timings', timings);
    for (const cleanup of cleanups) await cleanup();
  }, CHAIN_TEST_TIMEOUT_MS);

  it(
    'derives an entry for every transaction extension polkadot-js does not know',
    async () => {
      const metadataHex = (await api.rpc.state.getMetadata()).toHex();
      const derived = deriveSignedExtensions(metadataHex);
      expect(derived.identifiers).toEqual(api.registry.signedExtensions);
      for (const name of Object.keys(derived.userExtensions)) expect(derived.identifiers).toContain(name);
      expect(derived.unsignable).toEqual([]);
    },
    CHAIN_TEST_TIMEOUT_MS,
  );

  it(
    'reads the metagraph that was set up, at one block',
    async () => {
      const graph = await chain.metagraph(netuid);
      const hotkeys = graph.neurons.map((neuron) => neuron.hotkey);
      expect(hotkeys).toEqual(expect.arrayContaining([validatorHot.address, minerHot.address]));
      const validator = graph.neurons.find((neuron) => neuron.hotkey === validatorHot.address)!;
      const miner = graph.neurons.find((neuron) => neuron.hotkey === minerHot.address)!;
      expect(validator.coldkey).toBe(alice.address);
      expect(miner.coldkey).toBe(bob.address);
      expect(validator.validatorPermit).toBe(true);
      expect(validator.totalStake).toBeGreaterThan(miner.totalStake);
      expect(graph.ownerHotkey).toBe(ownerHot.address);
      expect(graph.tempo).toBe(10);
      expect(graph.weightsRateLimit).toBe(0);
      expect(graph.minAllowedWeights).toBe(1);
      expect(graph.commitRevealEnabled).toBe(true);
      expect(graph.block).toBe(await chain.currentBlock());
      const header = await api.rpc.chain.getHeader(graph.blockHash);
      expect(header.number.toNumber()).toBe(graph.block);
    },
    CHAIN_TEST_TIMEOUT_MS,
  );

  it(
    'publishes a commitment and reads it back by hotkey',
    async () => {
      const text = 'stratum+tcp://validator.example:3333';
      const inclusion = await chain.publishCommitment(validatorHot, netuid, text);
      const commitments = await chain.commitments(netuid);
      expect(commitments.get(validatorHot.address as Hotkey)).toEqual({
        hotkey: validatorHot.address,
        text,
        block: inclusion.block,
      });
    },
    CHAIN_TEST_TIMEOUT_MS,
  );

  it(
    'refuses set_weights by name while commit-reveal is on',
    async () => {
      const graph = await chain.metagraph(netuid);
      const minerUid = graph.neurons.find((neuron) => neuron.hotkey === minerHot.address)!.uid;
      const error = await chain
        .setWeights(validatorHot, netuid, {
          uids: [minerUid],
          values: [65535],
          versionKey: graph.weightsVersion,
        })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ChainError);
      expect((error as ChainError).chainError).toBe('CommitRevealEnabled');
      expect((error as ChainError).retryable).toBe(false);
    },
    CHAIN_TEST_TIMEOUT_MS,
  );

  it(
    'sets weights when commit-reveal is off, and the signed extrinsic decodes',
    async () => {
      const tx = api.tx as unknown as Record<string, Record<string, (...args: unknown[]) => Extrinsic>>;
      await send(
        api,
        alice,
        tx.sudo!.sudo!(tx.adminUtils!.sudoSetCommitRevealWeightsEnabled!(netuid, false)),
        true,
      );
      const graph = await chain.metagraph(netuid);
      expect(graph.commitRevealEnabled).toBe(false);
      const validatorUid = graph.neurons.find((neuron) => neuron.hotkey === validatorHot.address)!.uid;
      const minerUid = graph.neurons.find((neuron) => neuron.hotkey === minerHot.address)!.uid;
      const inclusion = await chain.setWeights(validatorHot, netuid, {
        uids: [minerUid],
        values: [65535],
        versionKey: graph.weightsVersion,
      });
      expect(await chain.weightsOf(netuid, validatorUid)).toEqual(new Map([[minerUid, 65535]]));

      const block = await api.rpc.chain.getBlock(inclusion.blockHash);
      const posted = block.block.extrinsics.find(
        (extrinsic) =>
          extrinsic.method.section === 'subtensorModule' && extrinsic.method.method === 'setWeights',
      );
      expect(posted?.isSigned).toBe(true);
      expect(posted?.signer.toString()).toBe(validatorHot.address);
      const again = api.createType('Extrinsic', posted!.toHex());
      expect(again.toHex()).toBe(posted!.toHex());
      expect(again.method.args[0]!.toString()).toBe(String(netuid));
    },
    CHAIN_TEST_TIMEOUT_MS,
  );

  it(
    'commits a hash and reveals it in the reveal epoch',
    async () => {
      const tx = api.tx as unknown as Record<string, Record<string, (...args: unknown[]) => Extrinsic>>;
      await send(
        api,
        alice,
        tx.sudo!.sudo!(tx.adminUtils!.sudoSetCommitRevealWeightsEnabled!(netuid, true)),
        true,
      );
      const graph = await chain.metagraph(netuid);
      const validatorUid = graph.neurons.find((neuron) => neuron.hotkey === validatorHot.address)!.uid;
      const minerUid = graph.neurons.find((neuron) => neuron.hotkey === minerHot.address)!.uid;
      const vector = {
        uids: [validatorUid, minerUid],
        values: [20000, 65535],
        salt: randomSalt(),
        versionKey: graph.weightsVersion,
      };
      const hash = commitHash(
        validatorHot.address as Hotkey,
        netuid,
        vector.uids,
        vector.values,
        vector.salt,
        vector.versionKey,
      );
      await chain.commitWeights(validatorHot, netuid, hash);
      // Spec 293 has no SubnetEpochIndex: there the old formula is the runtime's own rule.
      const schedule = await chain.epochSchedule(netuid);
      expect(schedule).toMatchObject({
        source: 'formula',
        epoch: epochIndex(schedule.block, netuid, graph.tempo),
      });

      const early = await chain
        .revealWeights(validatorHot, netuid, vector)
        .catch((caught: unknown) => caught);
      expect(early).toMatchObject({ chainError: 'RevealTooEarly', retryable: true });

      let revealed = false;
      for (let blocks = 0; blocks < 3 * (graph.tempo + 1) && !revealed; blocks++) {
        await devnet.newBlocks(1);
        try {
          await chain.revealWeights(validatorHot, netuid, vector);
          revealed = true;
        } catch (error) {
          if (!(error instanceof ChainError) || error.chainError !== 'RevealTooEarly') throw error;
        }
      }
      expect(revealed).toBe(true);
      expect(await chain.weightsOf(netuid, validatorUid)).toEqual(
        new Map([
          [validatorUid, 20000],
          [minerUid, 65535],
        ]),
      );
    },
    CHAIN_TEST_TIMEOUT_MS,
  );

  it(
    'commits drand-timelocked weights that the runtime opens with the round-1000 pulse and applies',
    async () => {
      const runtime = await chain.timelockRuntime();
      expect(runtime.call).toBeDefined();
      const graph = await chain.metagraph(netuid);
      const validatorUid = graph.neurons.find((neuron) => neuron.hotkey === validatorHot.address)!.uid;
      const minerUid = graph.neurons.find((neuron) => neuron.hotkey === minerHot.address)!.uid;
      const vector = {
        uids: [validatorUid, minerUid],
        values: [12345, 65535],
        versionKey: graph.weightsVersion,
      };
      // Spec 293 has only commit_crv3_weights, which reads the payload without the hotkey.
      const hotkey = runtime.call === 'commit_timelocked_weights' ? validatorHot.publicKey : undefined;
      const started = performance.now();
      const ciphertext = encryptWeightsPayload({ ...vector, hotkey }, QUICKNET_ROUND_1000.round);
      timings.encryptMs = performance.now() - started;
      await chain.commitTimelockedWeights(validatorHot, netuid, {
        ciphertext,
        revealRound: QUICKNET_ROUND_1000.round,
        commitRevealVersion: runtime.commitRevealVersion ?? 0,
      });
      // The drand pallet cannot fetch pulses here: write round 1000's as its offchain worker would.
      await devSetStorage(devnet.endpoint, {
        Drand: {
          Pulses: [
            [
              [QUICKNET_ROUND_1000.round],
              {
                round: QUICKNET_ROUND_1000.round,
                randomness: `0x${QUICKNET_ROUND_1000.randomness}`,
                signature: u8aToHex(QUICKNET_ROUND_1000.signature),
              },
            ],
          ],
          LastStoredRound: QUICKNET_ROUND_1000.round,
        },
      });
      const want = new Map([
        [validatorUid, 12345],
        [minerUid, 65535],
      ]);
      for (let blocks = 0; blocks < 3 * (graph.tempo + 1); blocks++) {
        if (sameMap(await chain.weightsOf(netuid, validatorUid), want)) break;
        await devnet.newBlocks(1);
      }
      expect(await chain.weightsOf(netuid, validatorUid)).toEqual(want);
    },
    CHAIN_TEST_TIMEOUT_MS,
  );

  it(
    'fails a set-up transaction at once, naming the status, when the chain refuses it in a block',
    async () => {
      // Two transactions with one nonce both pass the pool's check; the block takes the first and
      // chopsticks reports the second Invalid (stale nonce). The helper must reject, not wait.
      const tx = api.tx as unknown as Record<string, Record<string, (...args: unknown[]) => Extrinsic>>;
      const nonce = (await api.rpc.system.accountNextIndex(alice.address)).toNumber();
      await devRpc(devnet.endpoint, 'dev_setBlockBuildMode', ['Manual']);
      try {
        // Which of the two the block takes is the chain's choice: exactly one must fail, at once.
        const settled = Promise.allSettled([
          send(api, alice, tx.system!.remark!('0x01'), false, nonce),
          send(api, alice, tx.system!.remark!('0x02'), false, nonce),
        ]);
        for (let i = 0; i < 200 && (await api.rpc.author.pendingExtrinsics()).length < 2; i++)
          await new Promise((resolve) => setTimeout(resolve, 50));
        await devnet.newBlocks(1);
        const outcomes = await settled;
        expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
        const refused = outcomes.flatMap((outcome) =>
          outcome.status === 'rejected' ? [(outcome.reason as Error).message] : [],
        );
        expect(refused).toHaveLength(1);
        expect(refused[0]).toMatch(/system\.remark .*Invalid/);
      } finally {
        await devRpc(devnet.endpoint, 'dev_setBlockBuildMode', ['Instant']);
      }
    },
    // Short: the old helper waited here until the hook's timeout.
    60_000,
  );

  it(
    'reports each new block to a subscriber until unsubscribed',
    async () => {
      const seen: number[] = [];
      const unsubscribe = await chain.subscribeBlocks((block) => seen.push(block));
      const start = await chain.currentBlock();
      await devnet.newBlocks(2);
      await waitFor(() => seen.includes(start + 2));
      unsubscribe();
      expect(seen).toEqual(expect.arrayContaining([start + 1, start + 2]));
    },
    CHAIN_TEST_TIMEOUT_MS,
  );
  it(
    'fails calls with a retryable Disconnected while the endpoint is down, and reconnects',
    async () => {
      // A TCP relay in front of chopsticks: closing it drops the client's socket for real.
      const upstream = new URL(devnet.endpoint);
      const sockets = new Set<net.Socket>();
      const relay = net.createServer((client) => {
        const server = net.connect(Number(upstream.port), upstream.hostname);
        for (const socket of [client, server]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => undefined);
        }
        client.pipe(server).pipe(client);
      });
      await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
      const port = (relay.address() as net.AddressInfo).port;
      const relayed = await PolkadotChain.connect(`ws://127.0.0.1:${port}`, {
        logger: silentLogger(),
        reconnectDelayMs: 200,
      });
      try {
        const before = await relayed.currentBlock();
        const closed = new Promise<void>((resolve) =>
          relay.close(() => {
            resolve();
          }),
        );
        for (const socket of sockets) socket.destroy();
        await closed;
        await waitFor(() => !relayed.api.isConnected);
        const error = await relayed.currentBlock().catch((caught: unknown) => caught);
        expect(error).toMatchObject({ chainError: 'Disconnected', retryable: true });

        await new Promise<void>((resolve) => relay.listen(port, '127.0.0.1', resolve));
        await waitFor(() => relayed.api.isConnected);
        expect(await relayed.currentBlock()).toBeGreaterThanOrEqual(before);
      } finally {
        await relayed.close();
        relay.close();
        for (const socket of sockets) socket.destroy();
      }
    },
    CHAIN_TEST_TIMEOUT_MS,
  );

  for (const commitMode of ['hash', 'timelocked'] as const) {
    it(
      `runs the whole loop with ${commitMode} commits: every vector stored on chain is the ledger's verified work`,
      async () => {
        const other = commitMode === 'hash' ? 'timelocked' : 'hash';
        const loop = await runWholeLoop({
          devnet,
          api,
          netuid,
          commitMode,
          validator: loopValidators[commitMode],
          farms: [
            { ...loopFarms[0]!, miners: 1 },
            { ...loopFarms[1]!, miners: 2 },
          ],
          // validatorHot published an example endpoint; the other loop validator is stopped.
          blacklist: [validatorHot.address, loopValidators[other].pair.address],
          metagraph: () => chain.metagraph(netuid),
          postsWanted: 2,
          // Generous: on a loaded 2-core CI machine the blocks and the CPU miners both slow down.
          timeoutMs: 480_000,
        });
        timings[`loop_${commitMode}`] = loop.timings.totalMs!;
        console.info(`chain-polkadot whole loop (${commitMode})`, loop.timings, {
          posts: loop.posts.map((post) => ({
            block: post.block,
            seenAtBlock: post.seenAtBlock,
            vector: vectorKey(post.vector.uids, post.vector.values),
            ...(post.timelock && { ...post.timelock, round: String(post.timelock.round) }),
          })),
        });
        const kind = commitMode === 'hash' ? 'committed' : 'timelocked';
        expect(loop.posts.length).toBeGreaterThanOrEqual(2);
        for (const post of loop.posts) {
          expect(post.kind).toBe(kind);
          // What the validator posted is what its ledger's accepted shares in the window give.
          expect(new Map(post.vector.uids.map((uid, i) => [uid, post.vector.values[i]]))).toEqual(
            post.recomputed,
          );
        }
        // On chain: every posted vector was stored (a hash commit whose reveal epoch had not come
        // when the validator stopped excepted: at most the last), and nothing else ever was.
        const unseen = loop.posts.filter((post) => post.seenAtBlock === undefined);
        expect(unseen.length).toBeLessThanOrEqual(
          commitMode === 'hash' ? Math.min(loop.unrevealedAtStop, 1) : 0,
        );
        if (unseen.length > 0) expect(unseen).toEqual([loop.posts.at(-1)]);
        const postedKeys = new Set(loop.posts.map((post) => vectorKey(post.vector.uids, post.vector.values)));
        const foreign = [...loop.storedVectors.keys()].filter((key) => !postedKeys.has(key));
        expect(foreign).toEqual([]);
        // Work from both farms reached the chain, post after post.
        const both = loop.posts.filter(
          (post) => post.seenAtBlock !== undefined && loop.farmUids.every((uid) => post.recomputed.has(uid)),
        );
        expect(both.length).toBeGreaterThanOrEqual(2);
      },
      // The loop's waits (480 s for the posts, then the last reveal) and its set-up.
      2 * CHAIN_TEST_TIMEOUT_MS,
    );
  }
});

type Extrinsic = SubmittableExtrinsic<'promise'>;

/**
 * Submits a set-up extrinsic and returns its events; a failure (or a failed sudo) throws, and so
 * does a status that ends its life without a block (Invalid, Dropped, Usurped), at once.
 */
async function send(
  api: ApiPromise,
  signer: KeyringPair,
  extrinsic: Extrinsic,
  sudo = false,
  nonce = -1,
): Promise<EventRecord[]> {
  return new Promise<EventRecord[]>((resolve, reject) => {
    extrinsic
      .signAndSend(signer, { nonce }, (result) => {
        const { status } = result;
        if (status.isInvalid || status.isDropped || status.isUsurped) {
          reject(
            new Error(`${describeCall(extrinsic)} was not included: the chain reported it ${status.type}`),
          );
          return;
        }
        if (!status.isInBlock && !status.isFinalized) return;
        if (result.dispatchError !== undefined) {
          reject(new Error(`${describeCall(extrinsic)} failed: ${describeError(api, result.dispatchError)}`));
          return;
        }
        const sudid = result.events.find(({ event }) => event.section === 'sudo' && event.method === 'Sudid');
        const outcome = sudid?.event.data[0] as unknown as
          { isErr: boolean; asErr: Parameters<typeof describeError>[1] } | undefined;
        if (sudo && outcome?.isErr === true) {
          reject(new Error(`sudo ${describeCall(extrinsic)} failed: ${describeError(api, outcome.asErr)}`));
          return;
        }
        resolve(result.events);
      })
      .catch(reject);
  });
}

/** `start_call` may have to wait the runtime's start-call delay: advance blocks until it passes. */
async function startCall(
  api: ApiPromise,
  devnet: Devnet,
  owner: KeyringPair,
  extrinsic: Extrinsic,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await send(api, owner, extrinsic);
      return;
    } catch (error) {
      if (attempt >= 30 || !/NeedWaitingMoreBlocksToStarCall/.test((error as Error).message)) throw error;
      await devnet.newBlocks(1);
    }
  }
}

function describeCall(extrinsic: Extrinsic): string {
  return `${extrinsic.method.section}.${extrinsic.method.method}`;
}

function describeError(
  api: ApiPromise,
  error: {
    isModule: boolean;
    asModule: Parameters<ApiPromise['registry']['findMetaError']>[0];
    toString(): string;
  },
): string {
  if (!error.isModule) return error.toString();
  const meta = api.registry.findMetaError(error.asModule);
  return `${meta.section}.${meta.name}`;
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
}

function sameMap<K, V>(a: ReadonlyMap<K, V>, b: ReadonlyMap<K, V>): boolean {
  return a.size === b.size && [...b].every(([key, value]) => a.get(key) === value);
}
