import { ApiPromise, WsProvider } from '@polkadot/api';
import type { ApiDecoration, SubmittableExtrinsic } from '@polkadot/api/types';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { Option, Struct, Vec } from '@polkadot/types';
import type { Codec, ISubmittableResult } from '@polkadot/types/types';
import { u8aToHex } from '@polkadot/util';
import type { HexString } from '@polkadot/util/types';
import { encodeAddress } from '@polkadot/util-crypto';
import type { Logger } from '../log/logger.js';
import {
  ChainError,
  chainError,
  type Chain,
  type Commitment,
  type Inclusion,
  type Metagraph,
  type NetUid,
  type Neuron,
  type RevealVector,
  type TimelockRuntime,
  type TimelockedCommit,
  type Uid,
  type WeightsVector,
} from './chain.js';
import { dispatchChainError, poolChainError } from './chain-errors.js';
import { commitmentInfoForText, textOfCommitmentFields, type DataField } from './commitment-data.js';
import { counterSchedule, formulaSchedule, type EpochSchedule } from './epoch.js';
import type { Hotkey } from './hotkey.js';
import { deriveSignedExtensions } from './signed-extensions.js';

/** Bittensor's SS58 prefix; hotkeys are compared as strings in this format. */
const SS58_FORMAT = 42;
/** The subnet owner hotkey storage's default: no owner set. */
const ZERO_ACCOUNT = new Uint8Array(32);

export interface PolkadotChainOptions {
  readonly logger: Logger;
  /** How long to wait for the first connection and the runtime's metadata (default 30 s). */
  readonly connectTimeoutMs?: number;
  /** How long a submitted extrinsic may take to be included in a block (default 60 s). */
  readonly inclusionTimeoutMs?: number;
  /** Delay between reconnection attempts after the endpoint drops (default 2.5 s). */
  readonly reconnectDelayMs?: number;
}

/**
 * The real `Chain`: a subtensor node (or a chopsticks fork of one) over a WebSocket through
 * `@polkadot/api`, which decodes storage, events and runtime APIs from the runtime's metadata.
 * Signing uses transaction-extension types derived from that same metadata (`signed-extensions.ts`),
 * so it works on runtimes with extensions polkadot-js does not know. The provider reconnects on
 * its own after a drop; calls made while it is down fail with the retryable `Disconnected`.
 */
export class PolkadotChain implements Chain {
  readonly #api: ApiPromise;
  readonly #endpoint: string;
  readonly #logger: Logger;
  readonly #inclusionTimeoutMs: number;
  #closed = false;

  private constructor(api: ApiPromise, endpoint: string, logger: Logger, inclusionTimeoutMs: number) {
    this.#api = api;
    this.#endpoint = endpoint;
    this.#logger = logger;
    this.#inclusionTimeoutMs = inclusionTimeoutMs;
  }

  /**
   * Connects, reads the runtime's metadata over the same socket to derive its transaction
   * extensions, then builds the `ApiPromise` with them (polkadot-js takes them only at creation).
   */
  static async connect(endpoint: string, options: PolkadotChainOptions): Promise<PolkadotChain> {
    const logger = options.logger.child({ component: 'chain', endpoint });
    const connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
    const provider = new WsProvider(endpoint, options.reconnectDelayMs ?? 2_500);
    // WsProvider emits 'error' for every failed attempt; one line per state change is enough.
    provider.on('error', () => undefined);
    try {
      await withTimeout(provider.isReady, connectTimeoutMs, () =>
        chainError('Disconnected', `cannot reach ${endpoint} within ${connectTimeoutMs} ms: is the node up?`),
      );
      const metadataHex = await withTimeout(
        provider.send<HexString>('state_getMetadata', []),
        connectTimeoutMs,
        () => chainError('Timeout', `${endpoint} did not send its metadata within ${connectTimeoutMs} ms`),
      );
      const extensions = deriveSignedExtensions(metadataHex);
      if (extensions.unsignable.length > 0) {
        logger.warn(
          { extensions: extensions.unsignable },
          'the runtime has transaction extensions with signed data hashrelay cannot supply; signing will fail',
        );
      }
      const api = await withTimeout(
        ApiPromise.create({ provider, signedExtensions: extensions.userExtensions, noInitWarn: true }),
        connectTimeoutMs,
        () =>
          chainError('Timeout', `${endpoint} did not finish the API handshake within ${connectTimeoutMs} ms`),
      );
      const version = api.runtimeVersion;
      logger.info(
        {
          specName: version.specName.toString(),
          specVersion: version.specVersion.toNumber(),
          metadataVersion: api.runtimeMetadata.version,
          extensions: extensions.identifiers,
          derivedExtensions: Object.keys(extensions.userExtensions),
        },
        'connected to chain',
      );
      const chain = new PolkadotChain(api, endpoint, logger, options.inclusionTimeoutMs ?? 60_000);
      provider.on('disconnected', () => {
        if (!chain.#closed) logger.warn('chain endpoint dropped; reconnecting');
      });
      provider.on('connected', () => {
        logger.info('chain endpoint reconnected');
      });
      return chain;
    } catch (error) {
      await provider.disconnect().catch(() => undefined);
      throw error;
    }
  }

  /** The underlying API (for tools and tests that need calls the `Chain` interface leaves out). */
  get api(): ApiPromise {
    return this.#api;
  }

  async currentBlock(): Promise<number> {
    return this.#guard('currentBlock', async () => (await this.#api.rpc.chain.getHeader()).number.toNumber());
  }

  async subscribeBlocks(onBlock: (block: number) => void): Promise<() => void> {
    return this.#guard('subscribeBlocks', () =>
      this.#api.rpc.chain.subscribeNewHeads((header) => {
        onBlock(header.number.toNumber());
      }),
    );
  }

  async metagraph(netuid: NetUid): Promise<Metagraph> {
    return this.#guard('metagraph', async () => {
      const { at, block, blockHash } = await this.#best();
      const subnetInfo = section(at.call, 'subnetInfoRuntimeApi', 'runtime API');
      const getMetagraph = member(subnetInfo, 'getMetagraph', 'subnetInfoRuntimeApi');
      const option = await getMetagraph<Option<Struct>>(netuid);
      if (option.isNone)
        throw chainError('SubnetNotExists', `subnet ${netuid} does not exist at block ${block}`);
      const graph = option.unwrap();
      const subtensor = section(at.query, 'subtensorModule', 'pallet');
      // A hyperparameter from the metagraph struct, or from storage at the same block when a
      // runtime's struct lacks it.
      const param = async (name: string, storage: string): Promise<bigint> => {
        const value = graph.get(name) ?? (await member(subtensor, storage, 'subtensorModule')(netuid));
        return toBigInt(value, name);
      };
      const hotkeys = vec(graph, 'hotkeys');
      const coldkeys = vec(graph, 'coldkeys');
      const permits = vec(graph, 'validatorPermit');
      const lastUpdate = vec(graph, 'lastUpdate');
      const totalStake = vec(graph, 'totalStake');
      // Read where the runtime's struct has them: the farm's status page shows them, nothing decides on them.
      const incentives = optionalVec(graph, 'incentives');
      const emissions = optionalVec(graph, 'emission');
      const neurons: Neuron[] = hotkeys.map((hotkey, uid) => ({
        uid,
        hotkey: address(hotkey),
        coldkey: coldkeys[uid] === undefined ? '' : address(coldkeys[uid]),
        validatorPermit: permits[uid]?.toJSON() === true,
        totalStake: totalStake[uid] === undefined ? 0n : toBigInt(totalStake[uid], 'totalStake'),
        lastUpdate: lastUpdate[uid] === undefined ? 0 : Number(toBigInt(lastUpdate[uid], 'lastUpdate')),
        ...(incentives?.[uid] === undefined
          ? {}
          : { incentive: Number(toBigInt(incentives[uid], 'incentives')) / 65535 }),
        ...(emissions?.[uid] === undefined ? {} : { emission: toBigInt(emissions[uid], 'emission') }),
      }));
      const owner = await member(subtensor, 'subnetOwnerHotkey', 'subtensorModule')(netuid);
      const commitReveal =
        graph.get('commitRevealWeightsEnabled') ??
        (await member(subtensor, 'commitRevealWeightsEnabled', 'subtensorModule')(netuid));
      const stakeThreshold = subtensor.stakeThreshold;
      return {
        netuid,
        block,
        blockHash,
        neurons,
        ownerHotkey: isZeroAccount(owner) ? undefined : address(owner),
        tempo: Number(await param('tempo', 'tempo')),
        weightsRateLimit: Number(await param('weightsRateLimit', 'weightsSetRateLimit')),
        weightsVersion: await param('weightsVersion', 'weightsVersionKey'),
        commitRevealEnabled: commitReveal.toJSON() === true,
        commitRevealPeriod: Number(await param('commitRevealPeriod', 'revealPeriodEpochs')),
        maxWeightsLimit: Number(await param('maxWeightsLimit', 'maxWeightsLimit')),
        minAllowedWeights: Number(await param('minAllowedWeights', 'minAllowedWeights')),
        ...(stakeThreshold === undefined
          ? {}
          : { stakeThreshold: toBigInt(await stakeThreshold(), 'stakeThreshold') }),
      };
    });
  }

  async commitments(netuid: NetUid): Promise<Map<Hotkey, Commitment>> {
    return this.#guard('commitments', async () => {
      const { at } = await this.#best();
      const commitments = section(at.query, 'commitments', 'pallet');
      const commitmentOf = member(commitments, 'commitmentOf', 'commitments');
      const entries = await commitmentOf.entries(netuid);
      const out = new Map<Hotkey, Commitment>();
      for (const [key, value] of entries) {
        const account = key.args[1];
        const registration = unwrapOption(value);
        if (account === undefined || registration === undefined) continue;
        const info = registration.get('info') as Struct | undefined;
        const fields = info?.get('fields') as Vec<Codec & { type: string; value: Codec }> | undefined;
        if (fields === undefined) continue;
        const text = textOfCommitmentFields(
          fields.map((field): DataField => ({ variant: field.type, bytes: field.value.toU8a(true) })),
        );
        if (text === undefined) continue;
        const hotkey = address(account);
        const block = registration.get('block');
        out.set(hotkey, { hotkey, text, block: block === undefined ? 0 : Number(toBigInt(block, 'block')) });
      }
      return out;
    });
  }

  async publishCommitment(signer: KeyringPair, netuid: NetUid, text: string): Promise<Inclusion> {
    const commitments = section(this.#api.tx, 'commitments', 'pallet');
    const setCommitment = member(commitments, 'setCommitment', 'commitments');
    return this.#submit(signer, 'Commitments.set_commitment', () =>
      setCommitment(netuid, commitmentInfoForText(text)),
    );
  }

  async setWeights(signer: KeyringPair, netuid: NetUid, vector: WeightsVector): Promise<Inclusion> {
    return this.#submit(signer, 'SubtensorModule.set_weights', () =>
      this.#subtensorCall('setWeights')(netuid, [...vector.uids], [...vector.values], vector.versionKey),
    );
  }

  async commitWeights(signer: KeyringPair, netuid: NetUid, commitHash: Uint8Array): Promise<Inclusion> {
    if (commitHash.length !== 32)
      throw new RangeError(`a commit hash is 32 bytes (blake2b-256), got ${commitHash.length}`);
    return this.#submit(signer, 'SubtensorModule.commit_weights', () =>
      this.#subtensorCall('commitWeights')(netuid, u8aToHex(commitHash)),
    );
  }

  async revealWeights(signer: KeyringPair, netuid: NetUid, vector: RevealVector): Promise<Inclusion> {
    return this.#submit(signer, 'SubtensorModule.reveal_weights', () =>
      this.#subtensorCall('revealWeights')(
        netuid,
        [...vector.uids],
        [...vector.values],
        [...vector.salt],
        vector.versionKey,
      ),
    );
  }

  async timelockRuntime(): Promise<TimelockRuntime> {
    return this.#guard('timelockRuntime', async () => {
      const { at, block } = await this.#best();
      const subtensor = section(at.query, 'subtensorModule', 'pallet');
      const tx = section(this.#api.tx, 'subtensorModule', 'pallet');
      const version = subtensor.commitRevealWeightsVersion;
      const lastStoredRound = at.query.drand?.lastStoredRound;
      return {
        call:
          tx.commitTimelockedWeights !== undefined
            ? 'commit_timelocked_weights'
            : tx.commitCrv3Weights !== undefined
              ? 'commit_crv3_weights'
              : undefined,
        commitRevealVersion:
          version === undefined ? undefined : Number(toBigInt(await version(), 'commitRevealWeightsVersion')),
        lastStoredRound:
          lastStoredRound === undefined ? 0n : toBigInt(await lastStoredRound(), 'lastStoredRound'),
        block,
        blockTimestampMs: Number(
          toBigInt(await member(section(at.query, 'timestamp', 'pallet'), 'now', 'timestamp')(), 'now'),
        ),
        blockTimeMs: await this.#blockTimeMs(at),
      };
    });
  }

  async commitTimelockedWeights(
    signer: KeyringPair,
    netuid: NetUid,
    commit: TimelockedCommit,
  ): Promise<Inclusion> {
    const tx = section(this.#api.tx, 'subtensorModule', 'pallet');
    const ciphertext = u8aToHex(commit.ciphertext);
    // Pick the call the metadata has: spec 293 predates commit_timelocked_weights (CHAIN.md).
    if (tx.commitTimelockedWeights !== undefined) {
      return this.#submit(signer, 'SubtensorModule.commit_timelocked_weights', () =>
        this.#subtensorCall('commitTimelockedWeights')(
          netuid,
          ciphertext,
          commit.revealRound,
          commit.commitRevealVersion,
        ),
      );
    }
    return this.#submit(signer, 'SubtensorModule.commit_crv3_weights', () =>
      this.#subtensorCall('commitCrv3Weights')(netuid, ciphertext, commit.revealRound),
    );
  }

  /**
   * Spec ≥ 423: `SubnetEpochIndex`, `LastEpochBlock`, `PendingEpochAt` and `Tempo` at one block
   * (what the `get_next_epoch_start_block` runtime API reads). Older runtimes lack the counter:
   * there the old formula is the runtime's own rule.
   */
  async epochSchedule(netuid: NetUid, at?: Inclusion): Promise<EpochSchedule> {
    return this.#guard('epochSchedule', async () => {
      const view =
        at === undefined
          ? await this.#best()
          : { at: await this.#api.at(at.blockHash), block: at.block, blockHash: at.blockHash };
      const subtensor = section(view.at.query, 'subtensorModule', 'pallet');
      const read = async (storage: string): Promise<number> =>
        Number(toBigInt(await member(subtensor, storage, 'subtensorModule')(netuid), storage));
      const tempo = await read('tempo');
      if (subtensor.subnetEpochIndex === undefined) return formulaSchedule(view.block, netuid, tempo);
      return counterSchedule({
        block: view.block,
        subnetEpochIndex: await read('subnetEpochIndex'),
        lastEpochBlock: await read('lastEpochBlock'),
        pendingEpochAt: await read('pendingEpochAt'),
        tempo,
      });
    });
  }

  async weightsOf(netuid: NetUid, uid: Uid): Promise<Map<Uid, number>> {
    return this.#guard('weightsOf', async () => {
      const { at } = await this.#best();
      const weights = member(section(at.query, 'subtensorModule', 'pallet'), 'weights', 'subtensorModule');
      const stored = (await weights(netuid, uid)) as CodecList;
      const out = new Map<Uid, number>();
      for (const pair of stored.toArray() as (Codec & { 0: Codec; 1: Codec })[])
        out.set(Number(toBigInt(pair[0], 'uid')), Number(toBigInt(pair[1], 'weight')));
      return out;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#api.disconnect();
  }

  /** The best block and a view of the chain at it, so one call reads one consistent state. */
  async #best(): Promise<{ at: ApiDecoration<'promise'>; block: number; blockHash: string }> {
    const header = await this.#api.rpc.chain.getHeader();
    const blockHash = header.hash.toHex();
    return { at: await this.#api.at(blockHash), block: header.number.toNumber(), blockHash };
  }

  /** Aura's slot duration from the runtime API; else twice `Timestamp.MinimumPeriod`; else 12 s. */
  async #blockTimeMs(at: ApiDecoration<'promise'>): Promise<number> {
    const slotDuration = at.call.auraApi?.slotDuration;
    if (slotDuration !== undefined) return Number(toBigInt(await slotDuration(), 'slotDuration'));
    const timestamp = (at.consts as Record<string, Record<string, Codec> | undefined>).timestamp;
    const minimumPeriod = timestamp?.minimumPeriod;
    if (minimumPeriod !== undefined) return 2 * Number(toBigInt(minimumPeriod, 'minimumPeriod'));
    return 12_000;
  }

  #subtensorCall(name: string): (...args: unknown[]) => SubmittableExtrinsic<'promise'> {
    return member(section(this.#api.tx, 'subtensorModule', 'pallet'), name, 'subtensorModule');
  }

  async #guard<T>(what: string, run: () => Promise<T>): Promise<T> {
    this.#checkConnected(what);
    try {
      return await run();
    } catch (error) {
      throw this.#asChainError(error, what);
    }
  }

  #checkConnected(what: string): void {
    if (this.#closed) throw chainError('Closed', `${what}: the chain client was closed`);
    if (!this.#api.isConnected)
      throw chainError('Disconnected', `${what}: ${this.#endpoint} is not connected (reconnecting)`);
  }

  #asChainError(error: unknown, what: string): ChainError {
    if (error instanceof ChainError) return error;
    const message = error instanceof Error ? error.message : String(error);
    if (!this.#api.isConnected || /disconnected|not connected|abnormal closure/i.test(message))
      return chainError('Disconnected', `${what}: ${this.#endpoint} dropped: ${message}`);
    return chainError('RpcError', `${what}: ${message}`);
  }

  /**
   * Signs and submits an extrinsic and waits until it is in a block. A dispatch error in that
   * block, a pool rejection or no inclusion within the timeout is thrown as a named ChainError.
   */
  async #submit(
    signer: KeyringPair,
    call: string,
    build: () => SubmittableExtrinsic<'promise'>,
  ): Promise<Inclusion> {
    this.#checkConnected(call);
    const extrinsic = build();
    return new Promise<Inclusion>((resolve, reject) => {
      let settled = false;
      let unsubscribe: (() => void) | undefined;
      const finish = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unsubscribe?.();
        outcome();
      };
      const timer = setTimeout(() => {
        finish(() => {
          reject(
            chainError(
              'Timeout',
              `${call} was not included within ${this.#inclusionTimeoutMs} ms (it may still land; check before resubmitting)`,
            ),
          );
        });
      }, this.#inclusionTimeoutMs);
      const onStatus = (result: ISubmittableResult): void => {
        const { status } = result;
        // chopsticks reports Finalized without InBlock; a node reports InBlock first.
        if (status.isInBlock || status.isFinalized) {
          const blockHash = (status.isInBlock ? status.asInBlock : status.asFinalized).toHex();
          const dispatchError = result.dispatchError;
          if (dispatchError !== undefined) {
            finish(() => {
              reject(dispatchChainError(this.#api.registry, dispatchError, call));
            });
            return;
          }
          this.#api.rpc.chain.getHeader(blockHash).then(
            (header) => {
              finish(() => {
                this.#logger.debug({ call, block: header.number.toNumber() }, 'extrinsic included');
                resolve({ block: header.number.toNumber(), blockHash });
              });
            },
            (error: unknown) => {
              finish(() => {
                reject(this.#asChainError(error, call));
              });
            },
          );
        } else if (status.isInvalid || status.isDropped || status.isUsurped) {
          finish(() => {
            reject(poolChainError(status.type, call));
          });
        }
      };
      extrinsic.signAndSend(signer, { nonce: -1 }, onStatus).then(
        (unsub) => {
          if (settled) unsub();
          else unsubscribe = unsub;
        },
        (error: unknown) => {
          finish(() => {
            const message = error instanceof Error ? error.message : String(error);
            reject(this.#api.isConnected ? poolChainError(message, call) : this.#asChainError(error, call));
          });
        },
      );
    });
  }
}

/** A `Vec` as its items (an interface, not polkadot-js's class, to read decoded values by shape). */
type CodecList = Codec & { toArray(): Codec[] };

/** A pallet, runtime API or call section, or an error naming what the runtime lacks. */
function section<T>(sections: Record<string, T | undefined>, name: string, kind: string): T {
  const found = sections[name];
  if (found === undefined)
    throw chainError('UnsupportedRuntime', `the runtime has no ${name} ${kind}: is this a subtensor chain?`);
  return found;
}

function member<T>(members: Record<string, T | undefined>, name: string, sectionName: string): T {
  const found = members[name];
  if (found === undefined)
    throw chainError('UnsupportedRuntime', `the runtime has no ${sectionName}.${name}: hashrelay needs it`);
  return found;
}

function vec(struct: Struct, name: string): Codec[] {
  const value = struct.get(name);
  if (value === undefined)
    throw chainError('UnsupportedRuntime', `the runtime's Metagraph has no ${name} field`);
  return (value as CodecList).toArray();
}

function optionalVec(struct: Struct, name: string): Codec[] | undefined {
  const value = struct.get(name);
  return value === undefined ? undefined : (value as CodecList).toArray();
}

function toBigInt(value: Codec, name: string): bigint {
  const json = value.toJSON();
  if (typeof json === 'number') return BigInt(json);
  const text = value.toString();
  if (!/^\d+$/.test(text)) throw chainError('UnsupportedRuntime', `${name} is not an integer (${text})`);
  return BigInt(text);
}

function address(value: Codec): Hotkey {
  return encodeAddress(value.toU8a(true), SS58_FORMAT) as Hotkey;
}

function isZeroAccount(value: Codec): boolean {
  const bytes = value.toU8a(true);
  return bytes.length === ZERO_ACCOUNT.length && bytes.every((byte) => byte === 0);
}

function unwrapOption(value: Codec): Struct | undefined {
  const option = value as Option<Struct> | Struct;
  if ('isNone' in option) return option.isNone ? undefined : option.unwrap();
  return option;
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(onTimeout());
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
