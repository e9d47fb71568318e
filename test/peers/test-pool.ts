/**
 * A Stratum V1 pool for integration tests and benchmarks: real TCP, real block templates
 * (bitcoinjs-lib coinbases and transactions, real merkle branches), and its own share check
 * (bitcoinjs-lib parses the coinbase, computes the merkle root from the full transaction list
 * and hashes the header), independent of src/work/share-check.ts.
 */
import { Block, Transaction } from 'bitcoinjs-lib';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import {
  bytesToHex,
  encodeConfigureResult,
  encodeSubscribeResult,
  JsonRpcErrorCode,
  LineFramer,
  parseMinerMessage,
  serializeError,
  serializeNotify,
  serializeParseError,
  serializeRequest,
  serializeResult,
  SubmitErrorCode,
  u32ToHex,
  type ConfigureRequest,
  type JsonRpcId,
  type JsonValue,
  type MinerMessage,
  type SubmitRequest,
} from '../../src/stratum/index.js';
import type { Job } from '../../src/work/job.js';
import { merkleBranchesForCoinbase } from '../../src/work/merkle.js';
import { toJobId } from '../../src/work/types.js';
import { displayHex, hashValue, shareDifficulty, targetForDifficulty } from './pow.js';
import type { SniffedLine } from './sniffer.js';
import { Waiters } from './waiters.js';

/**
 * How the pool behaves. `silent`: reads every line, answers nothing, sends nothing. `frozen`: a
 * process under SIGSTOP: reads nothing (sockets paused, lines wait in the kernel), sends nothing,
 * and takes up the waiting lines when it thaws. `deaf`: a pool whose receiver died: it keeps
 * sending jobs but reads (acts on, answers) nothing, handshakes included.
 */
export type PoolMode = 'normal' | 'reject-all' | 'silent' | 'frozen' | 'deaf';

/**
 * How submitted version bits make the header's nVersion: 'bip310' is
 * `(job & ~mask) | bits`; 'or' is `job | bits`, as ckpool computes it.
 */
export type VersionRule = 'bip310' | 'or';

/**
 * How a rejection is worded: 'stratum' sends `[code, message, null]`; 'ckpool' sends a bare
 * string ("Above target", "Stale", "Duplicate", "Invalid JobID") beside `result: false`, as ckpool does.
 */
export type ErrorStyle = 'stratum' | 'ckpool';

export interface TestPoolOptions {
  readonly host?: string;
  /** 0 (the default) picks a free port; read it from `.port`. */
  readonly port?: number;
  /** Shown in errors and log events. */
  readonly name?: string;
  readonly extranonce1Size?: number;
  readonly extranonce2Size?: number;
  /** Initial difficulty of every connection; fractional is fine. */
  readonly difficulty?: number;
  /** The version-rolling bits this pool allows; each miner is granted `versionMask & its mask`. */
  readonly versionMask?: number;
  readonly version?: number;
  /** Default 'bip310'. */
  readonly versionRule?: VersionRule;
  readonly nbits?: number;
  /**
   * A share is a block only if it also meets this difficulty: ckpool floors the network
   * difficulty at 1, so on regtest a share under difficulty 1 is no block to it. Default: none.
   */
  readonly networkDifficultyFloor?: number;
  /** Default 'stratum'. */
  readonly errorStyle?: ErrorStyle;
  /** Transactions besides the coinbase in each job. */
  readonly transactions?: number;
  /** Bytes of an extra coinbase output (a pool paying many addresses): makes notifies large. */
  readonly coinbasePaddingBytes?: number;
  /** Accepted ntime: job.ntime ≤ ntime ≤ job.ntime + this (ckpool's rule). */
  readonly ntimeWindowSeconds?: number;
  readonly authorize?: (username: string, password: string) => boolean;
  /**
   * Give every connection the same extranonce1, as a pool that resumes a session on reconnect
   * does (default: a fresh one per connection).
   */
  readonly reuseExtranonce1?: boolean;
  /** Keep every line in and out per connection (default true); benchmarks may turn it off. */
  readonly sniff?: boolean;
  /** Issue a fresh (not clean) job this often, as pools refresh work; default: only when told. */
  readonly jobRefreshMs?: number;
  /** Structured events (`connection`, `share`, `job`), for debugging a failing test. */
  readonly log?: (event: string, fields: Readonly<Record<string, unknown>>) => void;
}

export interface PoolJob {
  /** The job as notified; `cleanJobs` is how it was broadcast (a newcomer always gets it clean). */
  readonly job: Job;
  /** Clean jobs issued up to and including this one: a share on an older epoch is stale. */
  readonly epoch: number;
  readonly height: number;
  readonly prevHashInternal: Uint8Array;
  /** The block's other transactions, in order after the coinbase. */
  readonly transactions: readonly Transaction[];
  readonly createdAt: number;
}

export interface PoolShareRecord {
  readonly at: number;
  readonly connectionId: number;
  readonly worker: string;
  readonly jobId: string;
  /** Hex, as submitted. */
  readonly extranonce2: string;
  readonly ntime: number;
  readonly nonce: number;
  readonly versionBits: number | undefined;
  /** The header's nVersion after rolling; undefined when the share was refused before hashing. */
  readonly version: number | undefined;
  /** Block hash, display hex; undefined when the share was refused before hashing. */
  readonly hash: string | undefined;
  /** The difficulty in force when the job was sent to this connection (what a share is credited). */
  readonly difficulty: number | undefined;
  readonly shareDifficulty: number | undefined;
  readonly isBlock: boolean;
  readonly accepted: boolean;
  readonly errorCode: number | undefined;
  readonly errorMessage: string | undefined;
}

export interface ReconnectTargetOptions {
  readonly host: string;
  readonly port: number;
  readonly waitSeconds?: number;
}

/** A connection as tests see it. */
export interface PoolConnection {
  readonly id: number;
  readonly remotePort: number | undefined;
  /** Every line in and out, in order (empty when the pool was started with `sniff: false`). */
  readonly log: readonly SniffedLine[];
  readonly subscribed: boolean;
  readonly userAgent: string | undefined;
  /** Hex; what the connection's next job is issued under. */
  readonly extranonce1: string;
  readonly extranonce2Size: number;
  readonly extranonceSubscribed: boolean;
  /** The mask the miner asked for in `mining.configure`, if it asked. */
  readonly minerVersionMask: number | undefined;
  /** The mask granted, if version rolling was negotiated. */
  readonly versionRollingMask: number | undefined;
  readonly workers: ReadonlySet<string>;
  readonly suggestedDifficulty: number | undefined;
  /** The difficulty the next job will be sent at. */
  readonly difficulty: number;
  /** Jobs sent to this connection, oldest first. */
  readonly jobIds: readonly string[];
  readonly closed: boolean;
}

interface IssuedJob {
  readonly poolJob: PoolJob;
  readonly difficulty: number;
  readonly extranonce1: Uint8Array;
  readonly extranonce2Size: number;
}

class ConnectionState implements PoolConnection {
  readonly log: SniffedLine[] = [];
  readonly framer = new LineFramer();
  readonly workers = new Set<string>();
  readonly issued = new Map<string, IssuedJob>();
  readonly jobIds: string[] = [];
  subscribed = false;
  userAgent: string | undefined;
  extranonce1: string;
  extranonce1Bytes: Uint8Array;
  extranonce2Size: number;
  extranonceSubscribed = false;
  minerVersionMask: number | undefined;
  versionRollingMask: number | undefined;
  suggestedDifficulty: number | undefined;
  difficulty: number;
  /** set_difficulty and the first job have been sent. */
  started = false;
  closed = false;

  constructor(
    readonly id: number,
    readonly socket: Socket,
    extranonce1: Uint8Array,
    extranonce2Size: number,
    difficulty: number,
  ) {
    this.extranonce1Bytes = extranonce1;
    this.extranonce1 = bytesToHex(extranonce1);
    this.extranonce2Size = extranonce2Size;
    this.difficulty = difficulty;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }
}

interface Verdict {
  readonly errorCode?: number;
  readonly errorMessage?: string;
  readonly version?: number;
  readonly hash?: string;
  readonly difficulty?: number;
  readonly shareDifficulty?: number;
  readonly isBlock?: boolean;
}

const DEFAULTS = {
  host: '127.0.0.1',
  extranonce1Size: 4,
  extranonce2Size: 8,
  // About 65 536 hashes a share: a fraction of a second for one CpuMiner on a laptop core.
  difficulty: 2 ** -16,
  versionMask: 0x1fffe000,
  version: 0x20000000,
  nbits: 0x1d00ffff,
  transactions: 3,
  ntimeWindowSeconds: 7000,
} as const;

/** Clean epochs of job history kept per connection: older job ids just read as unknown (also 21). */
const EPOCHS_KEPT = 2;

export class TestPool {
  readonly name: string;
  readonly host: string;
  readonly shares: PoolShareRecord[] = [];
  /** Every job issued, oldest first. */
  readonly jobs: PoolJob[] = [];
  private readonly waiters = new Waiters<TestPool>(this);
  private readonly all: ConnectionState[] = [];
  private readonly live = new Set<ConnectionState>();
  private readonly seenHashes = new Set<string>();
  private readonly targets = new Map<number, bigint>();
  /** What a block must meet: the nbits target, or the floor's if that is harder. */
  private readonly blockTarget: bigint;
  private readonly extranonce1Size: number;
  private readonly extranonce2Size: number;
  private readonly ntimeWindow: number;
  private readonly transactionCount: number;
  private readonly coinbasePadding: Uint8Array;
  private readonly authorizeWorker: (username: string, password: string) => boolean;
  private readonly sniff: boolean;
  private readonly emit: (event: string, fields: Readonly<Record<string, unknown>>) => void;
  private server: Server | undefined;
  private jobRefresh: NodeJS.Timeout | undefined;
  private boundPort = 0;
  private difficultyForNew: number;
  private allowedVersionMask: number;
  private jobVersion: number;
  private readonly versionRule: VersionRule;
  private readonly errorStyle: ErrorStyle;
  private readonly nbits: number;
  private currentMode: PoolMode = 'normal';
  private epoch = 0;
  private height = 840_000;
  private prevHashInternal: Uint8Array = new Uint8Array(32);
  private jobSequence = 0;
  private nextConnectionId = 1;
  private nextExtranonce1: number;
  private readonly reuseExtranonce1: boolean;
  private accepted = 0;
  private rejected = 0;

  private constructor(options: TestPoolOptions) {
    this.name = options.name ?? 'test-pool';
    this.reuseExtranonce1 = options.reuseExtranonce1 ?? false;
    this.host = options.host ?? DEFAULTS.host;
    this.extranonce1Size = sizeOption(
      options.extranonce1Size ?? DEFAULTS.extranonce1Size,
      1,
      16,
      'extranonce1Size',
    );
    this.extranonce2Size = sizeOption(
      options.extranonce2Size ?? DEFAULTS.extranonce2Size,
      1,
      16,
      'extranonce2Size',
    );
    this.difficultyForNew = difficultyOption(options.difficulty ?? DEFAULTS.difficulty);
    this.allowedVersionMask = u32Option(options.versionMask ?? DEFAULTS.versionMask, 'versionMask');
    this.jobVersion = u32Option(options.version ?? DEFAULTS.version, 'version');
    this.nbits = u32Option(options.nbits ?? DEFAULTS.nbits, 'nbits');
    const exponent = this.nbits >>> 24;
    if (exponent < 3 || exponent > 32 || (this.nbits & 0x00800000) !== 0) {
      throw new RangeError(`nbits ${u32ToHex(this.nbits)} is not a target this pool can check`);
    }
    this.coinbasePadding = new Uint8Array(options.coinbasePaddingBytes ?? 0).fill(0x51); // OP_1s
    const nbitsTarget = BigInt(`0x${Buffer.from(Block.calculateTarget(this.nbits)).toString('hex')}`);
    const floor = options.networkDifficultyFloor;
    const floorTarget = floor === undefined ? nbitsTarget : targetForDifficulty(difficultyOption(floor));
    this.blockTarget = floorTarget < nbitsTarget ? floorTarget : nbitsTarget;
    this.versionRule = options.versionRule ?? 'bip310';
    this.errorStyle = options.errorStyle ?? 'stratum';
    this.transactionCount = sizeOption(
      options.transactions ?? DEFAULTS.transactions,
      0,
      10_000,
      'transactions',
    );
    this.ntimeWindow = options.ntimeWindowSeconds ?? DEFAULTS.ntimeWindowSeconds;
    this.authorizeWorker = options.authorize ?? (() => true);
    this.sniff = options.sniff ?? true;
    this.emit = options.log ?? (() => undefined);
    // Start each pool's extranonce1 counter somewhere different, so two pools differ too.
    this.nextExtranonce1 = randomBytes(4).readUInt32BE(0);
  }

  static async start(options: TestPoolOptions = {}): Promise<TestPool> {
    const pool = new TestPool(options);
    pool.createJob(true);
    await pool.listen(options.port ?? 0);
    if (options.jobRefreshMs !== undefined) {
      pool.jobRefresh = setInterval(() => {
        void pool.newJob();
      }, options.jobRefreshMs);
    }
    return pool;
  }

  get port(): number {
    return this.boundPort;
  }

  get mode(): PoolMode {
    return this.currentMode;
  }

  get acceptedCount(): number {
    return this.accepted;
  }

  get rejectedCount(): number {
    return this.rejected;
  }

  /** Every connection ever accepted, oldest first (closed ones included, `closed` set). */
  get connections(): readonly PoolConnection[] {
    return this.all;
  }

  get currentJob(): PoolJob {
    return this.jobs[this.jobs.length - 1]!;
  }

  /** The difficulty new connections start at. */
  get difficulty(): number {
    return this.difficultyForNew;
  }

  get versionMask(): number {
    return this.allowedVersionMask;
  }

  /** Shares that solved a block as this pool sees it (submitted to its node, whatever the share's own verdict). */
  get blocks(): readonly PoolShareRecord[] {
    return this.shares.filter((share) => share.isBlock);
  }

  waitFor(predicate: (pool: TestPool) => boolean, timeoutMs = 5000, what?: string): Promise<void> {
    return this.waiters.waitFor(predicate, timeoutMs, what ?? `${this.name} condition`);
  }

  setMode(mode: PoolMode): void {
    const wasFrozen = this.currentMode === 'frozen';
    this.currentMode = mode;
    for (const state of this.live) {
      if (mode === 'frozen') state.socket.pause();
      else if (wasFrozen) state.socket.resume();
    }
    this.emit('mode', { pool: this.name, mode });
  }

  /**
   * Issues a job to every ready connection; a clean job changes the prevhash and makes older jobs
   * stale. `version` changes the job version from this job on (a soft-fork deployment's signal).
   */
  async newJob({ clean = false, version }: { clean?: boolean; version?: number } = {}): Promise<PoolJob> {
    if (version !== undefined) this.jobVersion = u32Option(version, 'version');
    const poolJob = this.createJob(clean);
    await this.broadcastJob(poolJob, this.ready());
    return poolJob;
  }

  /**
   * Sends the current job again, as pools do (periodic refreshes, after a reconnect or a
   * set_difficulty): the same content under the same job id, or with `newId` under a new one;
   * `clean` flags it clean without changing the prevhash. Shares on it are the same proofs.
   */
  async resendJob({
    newId = false,
    clean = false,
  }: { newId?: boolean; clean?: boolean } = {}): Promise<PoolJob> {
    const current = this.currentJob;
    let jobId = current.job.jobId;
    if (newId) {
      this.jobSequence += 1;
      jobId = toJobId(this.jobSequence.toString(16));
    }
    const poolJob: PoolJob = { ...current, job: { ...current.job, jobId, cleanJobs: clean } };
    if (newId) this.jobs.push(poolJob);
    this.emit('job', { pool: this.name, job: jobId, clean, epoch: this.epoch, resent: true });
    await this.broadcastJob(poolJob, this.ready());
    return poolJob;
  }

  /**
   * `mining.set_difficulty` then a fresh (not clean) job, as STRATUM.md asks: the new
   * difficulty applies to jobs sent from now on. Without `connection`, every connection and
   * every later one.
   */
  async setDifficulty(difficulty: number, connection?: PoolConnection): Promise<PoolJob> {
    difficultyOption(difficulty);
    const targets = connection === undefined ? [...this.live] : [this.state(connection)];
    if (connection === undefined) this.difficultyForNew = difficulty;
    for (const state of targets) state.difficulty = difficulty;
    const poolJob = this.createJob(false);
    const ready = targets.filter((state) => state.started && !state.closed);
    const line = serializeRequest(null, 'mining.set_difficulty', [difficulty]);
    const writes = ready.map((state) => this.send(state, line, 'mining.set_difficulty'));
    await Promise.all([...writes, this.broadcastJob(poolJob, ready)]);
    return poolJob;
  }

  /** `mining.set_version_mask` with each negotiated connection's share of the new mask; applies at once. */
  async setVersionMask(mask: number): Promise<void> {
    this.allowedVersionMask = u32Option(mask, 'mask');
    const writes: Promise<void>[] = [];
    for (const state of this.live) {
      if (state.minerVersionMask === undefined || state.versionRollingMask === undefined) continue;
      state.versionRollingMask = (this.allowedVersionMask & state.minerVersionMask) >>> 0;
      writes.push(
        this.send(
          state,
          serializeRequest(null, 'mining.set_version_mask', [u32ToHex(state.versionRollingMask)]),
          'mining.set_version_mask',
        ),
      );
    }
    await Promise.all(writes);
  }

  /**
   * `mining.set_extranonce` to a connection that sent `mining.extranonce.subscribe`, then a
   * fresh job issued under it (earlier jobs keep the extranonce they were sent with). The
   * coinbase keeps its length, so `extranonce1.length + extranonce2Size` must not change.
   */
  async setExtranonce(
    connection: PoolConnection,
    extranonce1: Uint8Array | string,
    extranonce2Size: number,
  ): Promise<PoolJob> {
    const state = this.state(connection);
    if (!state.extranonceSubscribed) {
      throw new Error(`connection ${state.id} did not send mining.extranonce.subscribe`);
    }
    const bytes =
      typeof extranonce1 === 'string' ? Uint8Array.from(Buffer.from(extranonce1, 'hex')) : extranonce1;
    if (
      bytes.length + extranonce2Size !== this.extranonce1Size + this.extranonce2Size ||
      extranonce2Size < 1
    ) {
      throw new RangeError(
        `extranonce1 (${bytes.length} bytes) + extranonce2_size (${extranonce2Size}) must total ${
          this.extranonce1Size + this.extranonce2Size
        }, the coinbase's extranonce space, with extranonce2_size ≥ 1`,
      );
    }
    state.extranonce1Bytes = bytes;
    state.extranonce1 = bytesToHex(bytes);
    state.extranonce2Size = extranonce2Size;
    const poolJob = this.createJob(false);
    const line = serializeRequest(null, 'mining.set_extranonce', [state.extranonce1, extranonce2Size]);
    const ready = state.started ? [state] : [];
    await Promise.all([this.send(state, line, 'mining.set_extranonce'), this.broadcastJob(poolJob, ready)]);
    return poolJob;
  }

  /** `client.reconnect`, bare (come back here) or with a target; the pool leaves the socket open. */
  async reconnect(target?: ReconnectTargetOptions, connection?: PoolConnection): Promise<void> {
    const params: JsonValue[] = [];
    if (target !== undefined) {
      params.push(target.host, target.port);
      if (target.waitSeconds !== undefined) params.push(target.waitSeconds);
    }
    const line = serializeRequest(null, 'client.reconnect', params);
    const states = connection === undefined ? [...this.live] : [this.state(connection)];
    await Promise.all(states.map((state) => this.send(state, line, 'client.reconnect')));
  }

  async showMessage(text: string): Promise<void> {
    const line = serializeRequest(null, 'client.show_message', [text]);
    await Promise.all([...this.live].map((state) => this.send(state, line, 'client.show_message')));
  }

  /** Destroys every open socket and resolves once they are closed. */
  async dropConnections(): Promise<void> {
    const closing = [...this.live].map(
      (state) =>
        new Promise<void>((resolve) => {
          if (state.socket.destroyed) {
            resolve();
            return;
          }
          state.socket.once('close', () => {
            resolve();
          });
          state.socket.destroy();
        }),
    );
    await Promise.all(closing);
  }

  async stop(): Promise<void> {
    clearInterval(this.jobRefresh);
    const server = this.server;
    this.server = undefined;
    const closed =
      server === undefined
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            server.close(() => {
              resolve();
            });
          });
    await this.dropConnections();
    await closed;
  }

  // ---- jobs ----

  private createJob(clean: boolean): PoolJob {
    if (clean || this.jobs.length === 0) {
      this.epoch += 1;
      this.height += 1;
      this.prevHashInternal = Uint8Array.from(randomBytes(32));
      // Old jobs are stale now, so no share on them can be accepted again: forget their hashes.
      this.seenHashes.clear();
      for (const state of this.all) pruneIssued(state, this.epoch);
    }
    const { coinb1, coinb2 } = this.buildCoinbase();
    const transactions = Array.from({ length: this.transactionCount }, randomTransaction);
    this.jobSequence += 1;
    const job: Job = {
      jobId: toJobId(this.jobSequence.toString(16)),
      prevhash: Uint8Array.from(Buffer.from(this.prevHashInternal).swap32()),
      coinb1,
      coinb2,
      merkleBranch: merkleBranchesForCoinbase(transactions.map((tx) => tx.getHash())),
      version: this.jobVersion,
      nbits: this.nbits,
      ntime: Math.floor(Date.now() / 1000),
      cleanJobs: clean,
    };
    const poolJob: PoolJob = {
      job,
      epoch: this.epoch,
      height: this.height,
      prevHashInternal: this.prevHashInternal,
      transactions,
      createdAt: Date.now(),
    };
    this.jobs.push(poolJob);
    this.emit('job', { pool: this.name, job: job.jobId, clean, epoch: this.epoch });
    this.waiters.changed(); // a test may be waiting for jobs while nothing else happens
    return poolJob;
  }

  /** A real coinbase (BIP 34 height, two outputs, a witness commitment) split around the extranonce space. */
  private buildCoinbase(): { coinb1: Uint8Array; coinb2: Uint8Array } {
    const space = this.extranonce1Size + this.extranonce2Size;
    const heightPush = [0x03, this.height & 0xff, (this.height >> 8) & 0xff, (this.height >> 16) & 0xff];
    const tag = Buffer.from(`/hashrelay-${this.name}/`);
    for (;;) {
      const marker = randomBytes(space);
      const scriptSig = Uint8Array.from([...heightPush, space, ...marker, tag.length, ...tag]);
      const coinbase = new Transaction();
      coinbase.version = 1;
      coinbase.addInput(new Uint8Array(32), 0xffffffff, 0xffffffff, scriptSig);
      coinbase.addOutput(p2pkhScript(), 312_500_000n);
      coinbase.addOutput(Uint8Array.from([0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed, ...randomBytes(32)]), 0n);
      if (this.coinbasePadding.length > 0) coinbase.addOutput(this.coinbasePadding, 0n);
      const serialized = Buffer.from(coinbase.toBuffer());
      const at = serialized.indexOf(marker);
      // A random marker found twice is astronomically unlikely; draw again rather than guess.
      if (at < 0 || serialized.indexOf(marker, at + 1) >= 0) continue;
      return {
        coinb1: Uint8Array.from(serialized.subarray(0, at)),
        coinb2: Uint8Array.from(serialized.subarray(at + space)),
      };
    }
  }

  private ready(): ConnectionState[] {
    return [...this.live].filter((state) => state.started);
  }

  /** Sends one serialised notify to every target, recording the difficulty and extranonce each got it under. */
  private async broadcastJob(poolJob: PoolJob, targets: readonly ConnectionState[]): Promise<void> {
    if (targets.length === 0) return;
    const bytes = serializeNotify(poolJob.job);
    await Promise.all(targets.map((state) => this.sendJob(state, poolJob, bytes)));
  }

  private sendJob(state: ConnectionState, poolJob: PoolJob, bytes: Buffer): Promise<void> {
    if (this.currentMode === 'silent' || this.currentMode === 'frozen') return Promise.resolve();
    state.issued.set(poolJob.job.jobId, {
      poolJob,
      difficulty: state.difficulty,
      extranonce1: state.extranonce1Bytes,
      extranonce2Size: state.extranonce2Size,
    });
    state.jobIds.push(poolJob.job.jobId);
    return this.send(state, bytes, 'mining.notify');
  }

  /** After subscribe and a first authorize: the difficulty, then the current job as a clean one. */
  private async beginWork(state: ConnectionState): Promise<void> {
    if (state.started || !state.subscribed || state.workers.size === 0) return;
    state.started = true;
    const current = this.currentJob;
    const job = current.job.cleanJobs ? current.job : { ...current.job, cleanJobs: true };
    const difficulty = this.send(
      state,
      serializeRequest(null, 'mining.set_difficulty', [state.difficulty]),
      'mining.set_difficulty',
    );
    await Promise.all([difficulty, this.sendJob(state, current, serializeNotify(job))]);
  }

  // ---- sockets ----

  private listen(port: number): Promise<void> {
    const server = createServer((socket) => {
      this.accept(socket);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => {
        server.off('error', reject);
        this.boundPort = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    const extranonce1 = Buffer.alloc(this.extranonce1Size);
    const counter = (this.reuseExtranonce1 ? this.nextExtranonce1 : this.nextExtranonce1++) >>> 0;
    // The counter's low bytes, right-aligned: unique for 2^(8·size) connections.
    for (let i = 0; i < Math.min(4, this.extranonce1Size); i++) {
      extranonce1[this.extranonce1Size - 1 - i] = (counter >>> (8 * i)) & 0xff;
    }
    const state = new ConnectionState(
      this.nextConnectionId++,
      socket,
      Uint8Array.from(extranonce1),
      this.extranonce2Size,
      this.difficultyForNew,
    );
    this.all.push(state);
    this.live.add(state);
    // The kernel completes the handshake of a stopped process; its lines wait unread.
    if (this.currentMode === 'frozen') socket.pause();
    this.emit('connection', { pool: this.name, connection: state.id, remotePort: socket.remotePort });
    socket.on('data', (chunk: Buffer) => {
      this.receive(state, chunk);
    });
    socket.on('error', (error) => {
      this.emit('socket-error', { pool: this.name, connection: state.id, error: error.message });
    });
    socket.on('close', () => {
      state.closed = true;
      this.live.delete(state);
      this.emit('disconnect', { pool: this.name, connection: state.id });
      this.waiters.changed();
    });
    this.waiters.changed();
  }

  private receive(state: ConnectionState, chunk: Buffer): void {
    const { lines, overflow } = state.framer.push(chunk);
    for (const line of lines) this.handleLine(state, line);
    if (overflow && this.currentMode !== 'silent' && this.currentMode !== 'deaf') {
      void this.send(
        state,
        serializeError(null, JsonRpcErrorCode.invalidRequest, 'line longer than the pool accepts'),
        undefined,
        true,
      );
    }
    this.waiters.changed();
  }

  private record(
    state: ConnectionState,
    direction: 'in' | 'out',
    line: string,
    method: string | undefined,
    reply: boolean,
  ): void {
    if (this.sniff) state.log.push({ direction, at: performance.now(), line, method, reply });
  }

  /** Writes one line (or a serialised notify); silent and frozen modes swallow everything. */
  private send(
    state: ConnectionState,
    data: string | Buffer,
    method: string | undefined,
    reply = false,
  ): Promise<void> {
    const mute = this.currentMode === 'silent' || this.currentMode === 'frozen';
    if (mute || state.socket.destroyed || !state.socket.writable) {
      return Promise.resolve();
    }
    if (this.sniff) {
      const text = typeof data === 'string' ? data : data.toString('utf8');
      this.record(state, 'out', text.endsWith('\n') ? text.slice(0, -1) : text, method, reply);
    }
    return new Promise((resolve) => {
      state.socket.write(data, () => {
        resolve();
      });
    });
  }

  private replyResult(state: ConnectionState, id: JsonRpcId, method: string, result: JsonValue): void {
    void this.send(state, serializeResult(id, result), method, true);
  }

  private replyError(
    state: ConnectionState,
    id: JsonRpcId,
    method: string | undefined,
    code: number,
    message: string,
  ): void {
    void this.send(state, serializeError(id, code, message), method, true);
  }

  // ---- requests ----

  private handleLine(state: ConnectionState, line: string): void {
    const parsed = parseMinerMessage(line);
    const message: MinerMessage | undefined = parsed.ok ? parsed.message : undefined;
    const method =
      message === undefined ? undefined : message.kind === 'unknown' ? message.method : message.kind;
    this.record(state, 'in', line, method === 'response' ? undefined : method, method === 'response');
    if (this.currentMode === 'silent' || this.currentMode === 'deaf') return;
    if (!parsed.ok) {
      void this.send(state, serializeParseError(parsed.error), undefined, true);
      return;
    }
    const request = parsed.message;
    switch (request.kind) {
      case 'mining.configure':
        this.replyResult(state, request.id, request.kind, this.configure(state, request));
        return;
      case 'mining.subscribe': {
        state.subscribed = true;
        state.userAgent = request.userAgent;
        const subscriptionId = state.id.toString(16);
        this.replyResult(
          state,
          request.id,
          request.kind,
          encodeSubscribeResult({
            subscriptions: [
              ['mining.set_difficulty', subscriptionId],
              ['mining.notify', subscriptionId],
            ],
            extranonce1: state.extranonce1Bytes,
            extranonce2Size: state.extranonce2Size,
          }),
        );
        void this.beginWork(state);
        return;
      }
      case 'mining.authorize': {
        const ok = this.authorizeWorker(request.username, request.password);
        if (ok) state.workers.add(request.username);
        this.replyResult(state, request.id, request.kind, ok);
        if (ok) void this.beginWork(state);
        return;
      }
      case 'mining.extranonce.subscribe':
        state.extranonceSubscribed = true;
        this.replyResult(state, request.id, request.kind, true);
        return;
      case 'mining.suggest_difficulty':
        state.suggestedDifficulty = request.difficulty;
        this.replyResult(state, request.id, request.kind, true);
        return;
      case 'mining.submit':
        this.submit(state, request);
        return;
      case 'unknown':
        this.replyError(
          state,
          request.id,
          request.method,
          JsonRpcErrorCode.methodNotFound,
          `unknown method "${request.method}"`,
        );
        return;
      case 'response':
        return;
    }
  }

  /** BIP 310: grant version rolling as `pool mask & miner mask`, refuse every other extension. */
  private configure(state: ConnectionState, request: ConfigureRequest): JsonValue {
    const accepted = new Map<string, boolean>();
    let versionRollingMask: number | undefined;
    for (const extension of request.extensions) {
      if (extension === 'version-rolling') {
        state.minerVersionMask = request.versionRollingMask ?? 0xffffffff;
        versionRollingMask = (this.allowedVersionMask & state.minerVersionMask) >>> 0;
        state.versionRollingMask = versionRollingMask;
        accepted.set(extension, true);
      } else {
        accepted.set(extension, false);
      }
    }
    return encodeConfigureResult({ accepted, versionRollingMask });
  }

  private submit(state: ConnectionState, request: SubmitRequest): void {
    const verdict: Verdict =
      this.currentMode === 'reject-all'
        ? {
            errorCode: SubmitErrorCode.other,
            errorMessage: 'this pool rejects every share (reject-all mode)',
          }
        : this.judge(state, request);
    const accepted = verdict.errorCode === undefined;
    if (accepted) this.accepted += 1;
    else this.rejected += 1;
    const record: PoolShareRecord = {
      at: Date.now(),
      connectionId: state.id,
      worker: request.worker,
      jobId: request.jobId,
      extranonce2: bytesToHex(request.extranonce2),
      ntime: request.ntime,
      nonce: request.nonce,
      versionBits: request.versionBits,
      version: verdict.version,
      hash: verdict.hash,
      difficulty: verdict.difficulty,
      shareDifficulty: verdict.shareDifficulty,
      isBlock: verdict.isBlock ?? false,
      accepted,
      errorCode: verdict.errorCode,
      errorMessage: verdict.errorMessage,
    };
    this.shares.push(record);
    this.emit('share', {
      pool: this.name,
      connection: state.id,
      job: request.jobId,
      accepted,
      code: verdict.errorCode,
    });
    if (accepted) {
      this.replyResult(state, request.id, request.kind, true);
    } else {
      // `result: false` beside the error: some proxies read only one of the two.
      const error =
        this.errorStyle === 'ckpool'
          ? ckpoolError(verdict)
          : [verdict.errorCode, verdict.errorMessage ?? 'rejected', null];
      const line = `${JSON.stringify({ id: request.id, result: false, error })}\n`;
      void this.send(state, line, request.kind, true);
    }
  }

  /** The pool's own share check, in the usual order: session, job, fields, then proof of work. */
  private judge(state: ConnectionState, request: SubmitRequest): Verdict {
    if (!state.subscribed) return reject(SubmitErrorCode.notSubscribed, 'not subscribed');
    if (!state.workers.has(request.worker)) {
      return reject(
        SubmitErrorCode.unauthorizedWorker,
        `worker "${request.worker}" is not authorized on this connection`,
      );
    }
    const issued = state.issued.get(request.jobId);
    if (issued === undefined) return reject(SubmitErrorCode.jobNotFound, `job ${request.jobId} not found`);
    const { poolJob, difficulty } = issued;
    const { job } = poolJob;
    if (poolJob.epoch < this.epoch) {
      return { ...reject(SubmitErrorCode.jobNotFound, `job ${request.jobId} is stale`), difficulty };
    }
    if (request.extranonce2.length !== issued.extranonce2Size) {
      return {
        ...reject(
          SubmitErrorCode.other,
          `extranonce2 must be ${issued.extranonce2Size} bytes, got ${request.extranonce2.length}`,
        ),
        difficulty,
      };
    }
    if (request.ntime < job.ntime || request.ntime > job.ntime + this.ntimeWindow) {
      return {
        ...reject(
          SubmitErrorCode.other,
          `ntime ${u32ToHex(request.ntime)} outside ${u32ToHex(job.ntime)}..+${this.ntimeWindow}s`,
        ),
        difficulty,
      };
    }
    let version = job.version;
    if (request.versionBits !== undefined) {
      const mask = state.versionRollingMask;
      if (mask === undefined) {
        return { ...reject(SubmitErrorCode.other, 'version rolling was not negotiated'), difficulty };
      }
      if ((request.versionBits & ~mask) >>> 0 !== 0) {
        return {
          ...reject(
            SubmitErrorCode.other,
            `version bits ${u32ToHex(request.versionBits)} outside the mask ${u32ToHex(mask)}`,
          ),
          difficulty,
        };
      }
      version =
        this.versionRule === 'or'
          ? (job.version | request.versionBits) >>> 0
          : ((job.version & ~mask) | request.versionBits) >>> 0;
    }

    const coinbaseBytes = Buffer.concat([job.coinb1, issued.extranonce1, request.extranonce2, job.coinb2]);
    let coinbase: Transaction;
    try {
      coinbase = Transaction.fromBuffer(coinbaseBytes);
    } catch (error) {
      const reason = error instanceof Error ? error.message : 'unreadable';
      return { ...reject(SubmitErrorCode.other, `coinbase does not parse: ${reason}`), difficulty, version };
    }
    const block = new Block();
    block.version = version | 0;
    block.prevHash = poolJob.prevHashInternal;
    block.merkleRoot = Block.calculateMerkleRoot([coinbase, ...poolJob.transactions]);
    block.timestamp = request.ntime;
    block.bits = job.nbits;
    block.nonce = request.nonce;
    const digest = block.getHash();
    const value = hashValue(digest);
    const measured = {
      difficulty,
      version,
      hash: displayHex(digest),
      shareDifficulty: shareDifficulty(value),
      isBlock: value <= this.blockTarget,
    };
    if (this.seenHashes.has(measured.hash)) {
      return { ...measured, ...reject(SubmitErrorCode.duplicateShare, 'duplicate share') };
    }
    if (value > this.target(difficulty)) {
      return {
        ...measured,
        ...reject(
          SubmitErrorCode.lowDifficultyShare,
          `low difficulty share: ${measured.shareDifficulty} < ${difficulty}`,
        ),
      };
    }
    this.seenHashes.add(measured.hash);
    return measured;
  }

  private target(difficulty: number): bigint {
    let target = this.targets.get(difficulty);
    if (target === undefined) {
      target = targetForDifficulty(difficulty);
      this.targets.set(difficulty, target);
    }
    return target;
  }

  private state(connection: PoolConnection): ConnectionState {
    const state = this.all.find((candidate) => candidate === connection);
    if (state === undefined) throw new Error(`connection ${connection.id} does not belong to ${this.name}`);
    return state;
  }
}

function reject(errorCode: number, errorMessage: string): Verdict {
  return { errorCode, errorMessage };
}

/** ckpool's wording of a rejection (its share_errs strings), sent as a bare string. */
function ckpoolError(verdict: Verdict): string {
  switch (verdict.errorCode) {
    case SubmitErrorCode.jobNotFound:
      return verdict.errorMessage?.includes('stale') === true ? 'Stale' : 'Invalid JobID';
    case SubmitErrorCode.duplicateShare:
      return 'Duplicate';
    case SubmitErrorCode.lowDifficultyShare:
      return 'Above target';
    case SubmitErrorCode.unauthorizedWorker:
      return 'Worker mismatch';
    default:
      return verdict.errorMessage?.startsWith('version bits') === true
        ? 'Invalid version mask'
        : (verdict.errorMessage ?? 'Invalid');
  }
}

function pruneIssued(state: ConnectionState, epoch: number): void {
  for (const [jobId, issued] of state.issued) {
    if (issued.poolJob.epoch <= epoch - EPOCHS_KEPT) state.issued.delete(jobId);
  }
}

function p2pkhScript(): Uint8Array {
  return Uint8Array.from([0x76, 0xa9, 0x14, ...randomBytes(20), 0x88, 0xac]);
}

function randomTransaction(): Transaction {
  const tx = new Transaction();
  tx.version = 2;
  tx.addInput(randomBytes(32), 0, 0xfffffffd, Uint8Array.from([0x00, 0x14, ...randomBytes(20)]));
  tx.addOutput(p2pkhScript(), 12_345n);
  return tx;
}

function sizeOption(value: number, min: number, max: number, name: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

function u32Option(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${name} must be a u32, got ${value}`);
  }
  return value >>> 0;
}

function difficultyOption(value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`difficulty must be a positive finite number, got ${value}`);
  }
  return value;
}
