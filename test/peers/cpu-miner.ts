/**
 * A real, slow Stratum V1 miner for integration tests and benchmarks. It speaks the protocol
 * over TCP, hashes with node:crypto on its own header assembly (./pow.ts, not src/work), and
 * records what it sent, what came back and anything the other side got wrong.
 *
 * Many miners share one process: hashing runs in chunks that a shared scheduler interleaves
 * with a time budget per event-loop turn, so sockets and timers stay responsive.
 */
import { connect as dial, type Socket } from 'node:net';
import {
  decodeBooleanResult,
  decodeConfigureResult,
  decodeSubscribeResult,
  JsonRpcErrorCode,
  LineFramer,
  parsePoolMessage,
  serializeError,
  serializeRequest,
  serializeResult,
  u32ToHex,
  type JsonRpcId,
  type JsonValue,
  type PoolMessage,
  type ReconnectTarget,
  type StratumResponse,
} from '../../src/stratum/index.js';
import type { Job } from '../../src/work/job.js';
import {
  bitCount,
  displayHex,
  hashValue,
  headerTemplate,
  rolledVersion,
  sha256d,
  targetForDifficulty,
  versionBitsAt,
} from './pow.js';
import { inboundLine, type SniffedLine } from './sniffer.js';
import { Waiters } from './waiters.js';

export interface CpuMinerOptions {
  readonly host?: string;
  readonly port: number;
  /** Authorized when `workers` is not given. */
  readonly username: string;
  readonly password?: string;
  /** Names to authorize (each with `password`); shares are submitted round-robin among them. */
  readonly workers?: readonly string[];
  /** Ask for BIP 310 version rolling with this mask. */
  readonly versionRolling?: { readonly mask: number; readonly minBitCount?: number };
  readonly suggestDifficulty?: number;
  /** Send `mining.extranonce.subscribe` (and so accept `mining.set_extranonce`). */
  readonly extranonceSubscribe?: boolean;
  readonly userAgent?: string;
  /** Shares beyond this many in any one second are found but not submitted (counted in `skippedShares`). */
  readonly maxSharesPerSecond?: number;
  /** Hashes per scheduler turn (default 1024). */
  readonly hashesPerChunk?: number;
  /** Nonces tried per version-bits value when rolling, before the next value (default 4096). */
  readonly noncesPerVersion?: number;
  /** Subscribe and authorize must be answered within this (default 5000 ms) or `connect` fails. */
  readonly handshakeTimeoutMs?: number;
  /** After an unexpected disconnect, reconnect to the same endpoint after this many ms (default: stay down). */
  readonly reconnectAfterMs?: number;
  /** Keep every line in and out (default true); benchmarks may turn it off. */
  readonly sniff?: boolean;
  /** Connect and handshake, but do not hash until `resume()`. */
  readonly startPaused?: boolean;
  /**
   * Start extranonce2 again at 0 whenever a notify brings a job id other than the last one, as
   * cpuminer (stratum_notify) and cgminer do; default: one counter for the miner's life.
   */
  readonly restartExtranonce2?: boolean;
  readonly name?: string;
}

export type SubmitReply = true | false | { readonly code: number; readonly message: string };

export interface MinerSubmit {
  readonly jobId: string;
  readonly worker: string;
  /** Hex, as sent. */
  readonly extranonce2: string;
  readonly ntime: number;
  readonly nonce: number;
  /** The 6th submit parameter; undefined when version rolling was not negotiated. */
  readonly versionBits: number | undefined;
  /** The header's nVersion the miner hashed. */
  readonly version: number;
  /** The job's difficulty, which the share met. */
  readonly difficulty: number;
  /** Block hash, display hex. */
  readonly hash: string;
  readonly sentAt: number;
  /** Undefined until answered (and forever, if the pool never answers). */
  readonly reply: SubmitReply | undefined;
  readonly answeredAt: number | undefined;
}

export interface MinerViolation {
  readonly at: number;
  readonly message: string;
  readonly line: string | undefined;
}

export interface MinerReconnect {
  readonly at: number;
  readonly host: string;
  readonly port: number;
  readonly waitSeconds: number;
  /** Asked for by `client.reconnect` rather than by the miner after a disconnect. */
  readonly requested: boolean;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface Pending {
  readonly method: string;
  readonly resolve: (response: StratumResponse) => void;
  readonly reject: (error: Error) => void;
  readonly submit: Mutable<MinerSubmit> | undefined;
}

/** A job as this miner works it: the difficulty and extranonce in force when it arrived. */
interface MinerJob {
  readonly job: Job;
  readonly difficulty: number;
  readonly target: bigint;
  /** The target's top 32 bits: most hashes are ruled out by one comparison. */
  readonly targetTop: number;
  readonly extranonce1: Uint8Array;
  readonly extranonce2Size: number;
}

/** One extranonce2 and version-bits value, and the nonces left to try under it. */
interface Work {
  readonly job: MinerJob;
  readonly extranonce2: Buffer;
  readonly header: Buffer;
  versionIndex: number;
  versionBits: number | undefined;
  version: number;
  nonce: number;
  nonceEnd: number;
}

interface Session {
  readonly socket: Socket;
  readonly framer: LineFramer;
  readonly pending: Map<number, Pending>;
  readonly authorized: string[];
  subscribed: boolean;
  ready: boolean;
  /** Closed by this miner (reconnect, close), not by the other side. */
  closing: boolean;
  closed: boolean;
  extranonce1: Uint8Array;
  extranonce2Size: number;
  extranonceSubscribed: boolean;
  nextExtranonce: { readonly extranonce1: Uint8Array; readonly extranonce2Size: number } | undefined;
  versionMask: number | undefined;
  nextDifficulty: number | undefined;
  job: MinerJob | undefined;
  work: Work | undefined;
}

const DEFAULTS = {
  host: '127.0.0.1',
  password: 'x',
  userAgent: 'hashrelay-test-cpu-miner/0.1',
  hashesPerChunk: 1024,
  noncesPerVersion: 4096,
  handshakeTimeoutMs: 5000,
} as const;

export class CpuMiner {
  readonly name: string;
  readonly submits: MinerSubmit[] = [];
  readonly violations: MinerViolation[] = [];
  /** Every line in and out, across reconnects. */
  readonly log: SniffedLine[] = [];
  /** `client.show_message` texts. */
  readonly messages: string[] = [];
  readonly reconnects: MinerReconnect[] = [];
  /** Shares found but not sent because of `maxSharesPerSecond`. */
  skippedShares = 0;
  /** Hashes computed so far. */
  hashes = 0;
  jobsReceived = 0;
  /** TCP connections opened, the first included. */
  connectCount = 0;
  private readonly options: CpuMinerOptions;
  private readonly workers: readonly string[];
  private readonly waiters = new Waiters<CpuMiner>(this);
  private readonly turn = (): boolean => this.mineChunk();
  private readonly hashesPerChunk: number;
  private readonly noncesPerVersion: number;
  private readonly sniff: boolean;
  private currentEndpoint: { host: string; port: number };
  private session: Session | undefined;
  private paused: boolean;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private nextId = 1;
  private nextWorker = 0;
  /** Never reset (unless `restartExtranonce2`), so no two work units repeat an extranonce2 on a re-sent job. */
  private extranonce2Counter = 0;
  private recentSubmits: number[] = [];
  private accepted = 0;
  private rejected = 0;

  private constructor(options: CpuMinerOptions) {
    this.options = options;
    this.name = options.name ?? 'cpu-miner';
    this.workers = options.workers ?? [options.username];
    if (this.workers.length === 0) throw new RangeError('workers must name at least one worker');
    this.hashesPerChunk = options.hashesPerChunk ?? DEFAULTS.hashesPerChunk;
    this.noncesPerVersion = options.noncesPerVersion ?? DEFAULTS.noncesPerVersion;
    if (
      !Number.isInteger(this.noncesPerVersion) ||
      this.noncesPerVersion < 1 ||
      this.noncesPerVersion > 2 ** 32
    ) {
      throw new RangeError(
        `noncesPerVersion must be an integer from 1 to 2^32, got ${this.noncesPerVersion}`,
      );
    }
    this.sniff = options.sniff ?? true;
    this.paused = options.startPaused ?? false;
    this.currentEndpoint = { host: options.host ?? DEFAULTS.host, port: options.port };
  }

  /** Connects, configures, subscribes and authorizes; resolves once the handshake is answered. */
  static async connect(options: CpuMinerOptions): Promise<CpuMiner> {
    const miner = new CpuMiner(options);
    await miner.open(miner.currentEndpoint.host, miner.currentEndpoint.port);
    return miner;
  }

  get acceptedCount(): number {
    return this.accepted;
  }

  get rejectedCount(): number {
    return this.rejected;
  }

  /** Lines the miner read, in order. */
  get received(): readonly SniffedLine[] {
    return this.log.filter((entry) => entry.direction === 'in');
  }

  get endpoint(): { readonly host: string; readonly port: number } {
    return this.currentEndpoint;
  }

  get connected(): boolean {
    return this.session !== undefined && !this.session.closed;
  }

  /** Workers the current session authorized. */
  get authorizedWorkers(): readonly string[] {
    return this.session?.authorized ?? [];
  }

  /** The granted version-rolling mask of the current session, if negotiated. */
  get versionMask(): number | undefined {
    return this.session?.versionMask;
  }

  get extranonce1(): string | undefined {
    const session = this.session;
    return session === undefined ? undefined : Buffer.from(session.extranonce1).toString('hex');
  }

  get extranonce2Size(): number | undefined {
    return this.session?.extranonce2Size;
  }

  /** The job being mined and its difficulty. */
  get currentJob(): { readonly jobId: string; readonly difficulty: number } | undefined {
    const job = this.session?.job;
    return job === undefined ? undefined : { jobId: job.job.jobId, difficulty: job.difficulty };
  }

  waitFor(predicate: (miner: CpuMiner) => boolean, timeoutMs = 5000, what?: string): Promise<void> {
    return this.waiters.waitFor(predicate, timeoutMs, what ?? `${this.name} condition`);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wake();
  }

  /** Stops mining and closes the connection for good. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const session = this.session;
    if (session !== undefined) await endSession(session);
  }

  // ---- connection ----

  private async open(host: string, port: number): Promise<void> {
    const socket = await openSocket(host, port);
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.connectCount += 1;
    this.currentEndpoint = { host, port };
    const session: Session = {
      socket,
      framer: new LineFramer({ maxLineLength: 1024 * 1024 }),
      pending: new Map(),
      authorized: [],
      subscribed: false,
      ready: false,
      closing: false,
      closed: false,
      extranonce1: new Uint8Array(0),
      extranonce2Size: 0,
      extranonceSubscribed: false,
      nextExtranonce: undefined,
      versionMask: undefined,
      nextDifficulty: undefined,
      job: undefined,
      work: undefined,
    };
    this.session = session;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      const { lines, overflow } = session.framer.push(chunk);
      for (const line of lines) this.handleLine(session, line);
      if (overflow) this.violation('a line longer than 1 MiB', undefined);
      this.waiters.changed();
    });
    socket.on('error', () => {
      // 'close' follows; the disconnect is handled there.
    });
    socket.on('close', () => {
      this.onClose(session);
    });
    const timeoutMs = this.options.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs;
    let timeout: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.handshake(session),
        new Promise<never>((_, reject) => {
          timeout = setTimeout(() => {
            reject(
              new Error(`${this.name}: handshake with ${host}:${port} not answered within ${timeoutMs} ms`),
            );
          }, timeoutMs);
        }),
      ]);
    } catch (error) {
      await endSession(session);
      throw error;
    } finally {
      clearTimeout(timeout);
    }
  }

  private async handshake(session: Session): Promise<void> {
    const rolling = this.options.versionRolling;
    if (rolling !== undefined) {
      const params: Record<string, JsonValue> = { 'version-rolling.mask': u32ToHex(rolling.mask >>> 0) };
      if (rolling.minBitCount !== undefined) params['version-rolling.min-bit-count'] = rolling.minBitCount;
      const reply = await this.request(session, 'mining.configure', [['version-rolling'], params]);
      if (reply.error === null) this.applyConfigure(session, reply, rolling.mask >>> 0);
    }

    const subscribe = await this.request(session, 'mining.subscribe', [
      this.options.userAgent ?? DEFAULTS.userAgent,
    ]);
    if (subscribe.error !== null) {
      throw new Error(
        `${this.name}: mining.subscribe refused: ${subscribe.error.code} ${subscribe.error.message}`,
      );
    }
    const decoded = decodeSubscribeResult(subscribe.result, subscribe.id);
    if (!decoded.ok) {
      this.violation(
        `unusable mining.subscribe result: ${decoded.error.message}`,
        JSON.stringify(subscribe.result),
      );
      throw new Error(`${this.name}: ${decoded.error.message}`);
    }
    if (decoded.value.extranonce2Size === 0)
      this.violation('mining.subscribe gave extranonce2_size 0', undefined);
    session.extranonce1 = decoded.value.extranonce1;
    session.extranonce2Size = decoded.value.extranonce2Size;
    session.subscribed = true;

    if (this.options.extranonceSubscribe === true) {
      const reply = await this.request(session, 'mining.extranonce.subscribe', []);
      session.extranonceSubscribed = reply.error === null && reply.result === true;
    }
    if (this.options.suggestDifficulty !== undefined) {
      await this.request(session, 'mining.suggest_difficulty', [this.options.suggestDifficulty]);
    }
    const password = this.options.password ?? DEFAULTS.password;
    for (const worker of this.workers) {
      const reply = await this.request(session, 'mining.authorize', [worker, password]);
      const result = decodeBooleanResult(reply.result, reply.id);
      if (!result.ok) this.violation(`unusable mining.authorize result: ${result.error.message}`, undefined);
      else if (reply.error === null && result.value) session.authorized.push(worker);
    }
    session.ready = true;
    this.waiters.changed();
    this.wake();
  }

  private applyConfigure(session: Session, reply: StratumResponse, asked: number): void {
    const decoded = decodeConfigureResult(reply.result, reply.id);
    if (!decoded.ok) {
      this.violation(
        `unusable mining.configure result: ${decoded.error.message}`,
        JSON.stringify(reply.result),
      );
      return;
    }
    if (decoded.value.accepted.get('version-rolling') !== true) return;
    const granted = decoded.value.versionRollingMask ?? 0;
    if ((granted & ~asked) >>> 0 !== 0) {
      this.violation(
        `version-rolling.mask ${u32ToHex(granted)} has bits outside the ${u32ToHex(asked)} asked for`,
        undefined,
      );
    }
    session.versionMask = (granted & asked) >>> 0;
  }

  private onClose(session: Session): void {
    session.closed = true;
    for (const pending of session.pending.values())
      pending.reject(new Error(`${this.name}: connection closed`));
    session.pending.clear();
    this.waiters.changed();
    if (session.closing || this.closed || session !== this.session) return;
    const delay = this.options.reconnectAfterMs;
    if (delay === undefined) return;
    const { host, port } = this.currentEndpoint;
    this.reconnects.push({ at: Date.now(), host, port, waitSeconds: delay / 1000, requested: false });
    this.reopenAfter(host, port, delay);
  }

  /** `client.reconnect`: leave this session and open one to the target (or the same endpoint). */
  private onReconnect(session: Session, target: ReconnectTarget | undefined): void {
    const host = target?.host ?? this.currentEndpoint.host;
    const port = target?.port ?? this.currentEndpoint.port;
    const waitSeconds = target?.waitSeconds ?? 0;
    this.reconnects.push({ at: Date.now(), host, port, waitSeconds, requested: true });
    void endSession(session);
    this.reopenAfter(host, port, waitSeconds * 1000);
  }

  private reopenAfter(host: string, port: number, delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.closed) return;
      this.open(host, port).catch((error: unknown) => {
        this.violation(
          `reconnect to ${host}:${port} failed: ${error instanceof Error ? error.message : String(error)}`,
          undefined,
        );
        const delay = this.options.reconnectAfterMs;
        if (delay !== undefined && !this.closed) this.reopenAfter(host, port, delay);
      });
    }, delayMs);
  }

  // ---- lines ----

  private request(session: Session, method: string, params: readonly JsonValue[]): Promise<StratumResponse> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      session.pending.set(id, { method, resolve, reject, submit: undefined });
      this.write(session, serializeRequest(id, method, params), method, false);
    });
  }

  private write(session: Session, line: string, method: string | undefined, reply: boolean): void {
    if (session.closed || session.socket.destroyed) return;
    if (this.sniff)
      this.log.push({ direction: 'out', at: performance.now(), line: line.trimEnd(), method, reply });
    session.socket.write(line);
  }

  private handleLine(session: Session, line: string): void {
    const parsed = parsePoolMessage(line);
    const message: PoolMessage | undefined = parsed.ok ? parsed.message : undefined;
    if (this.sniff) {
      const answered =
        message?.kind === 'response' && typeof message.id === 'number'
          ? session.pending.get(message.id)?.method
          : undefined;
      this.log.push(inboundLine(line, message, answered));
    }
    if (session !== this.session || session.closing) return;
    if (!parsed.ok) {
      this.violation(`unreadable line: ${parsed.error.message}`, line);
      return;
    }
    const incoming = parsed.message;
    switch (incoming.kind) {
      case 'response':
        this.onResponse(session, incoming, line);
        return;
      case 'mining.set_difficulty':
        // Applies from the next job, as STRATUM.md has it.
        session.nextDifficulty = incoming.difficulty;
        return;
      case 'mining.notify':
        this.onNotify(session, incoming.job, line);
        return;
      case 'mining.set_version_mask':
        this.onSetVersionMask(session, incoming.mask, line);
        return;
      case 'mining.set_extranonce':
        if (!session.extranonceSubscribed) {
          this.violation('mining.set_extranonce to a miner that did not subscribe to it', line);
        }
        if (incoming.extranonce2Size === 0)
          this.violation('mining.set_extranonce gave extranonce2_size 0', line);
        session.nextExtranonce = {
          extranonce1: incoming.extranonce1,
          extranonce2Size: incoming.extranonce2Size,
        };
        return;
      case 'client.reconnect':
        this.onReconnect(session, incoming.target);
        return;
      case 'client.show_message':
        this.messages.push(incoming.text);
        return;
      case 'client.get_version':
        this.answer(session, incoming.id, incoming.kind, this.options.userAgent ?? DEFAULTS.userAgent);
        return;
      case 'mining.ping':
        this.answer(session, incoming.id, incoming.kind, 'pong');
        return;
      case 'unknown':
        if (incoming.id !== null) {
          this.write(
            session,
            serializeError(
              incoming.id,
              JsonRpcErrorCode.methodNotFound,
              `unknown method "${incoming.method}"`,
            ),
            incoming.method,
            true,
          );
        }
        return;
    }
  }

  private answer(session: Session, id: JsonRpcId, method: string, result: JsonValue): void {
    if (id !== null) this.write(session, serializeResult(id, result), method, true);
  }

  private onResponse(session: Session, response: StratumResponse, line: string): void {
    const pending = typeof response.id === 'number' ? session.pending.get(response.id) : undefined;
    if (pending === undefined) {
      this.violation(`reply to id ${JSON.stringify(response.id)}, which is no request of this miner`, line);
      return;
    }
    session.pending.delete(response.id as number);
    const submit = pending.submit;
    if (submit !== undefined) {
      submit.answeredAt = Date.now();
      if (response.error !== null) {
        submit.reply = { code: response.error.code, message: response.error.message };
      } else {
        const result = decodeBooleanResult(response.result, response.id);
        if (!result.ok) this.violation(`unusable mining.submit result: ${result.error.message}`, line);
        submit.reply = result.ok && result.value;
      }
      if (submit.reply === true) this.accepted += 1;
      else this.rejected += 1;
    }
    pending.resolve(response);
  }

  private onNotify(session: Session, job: Job, line: string): void {
    this.jobsReceived += 1;
    if (!session.subscribed) this.violation('mining.notify before the mining.subscribe reply', line);
    const previous = session.job?.job;
    if (previous !== undefined && !job.cleanJobs && !Buffer.from(previous.prevhash).equals(job.prevhash)) {
      this.violation(`job ${job.jobId} changes the prevhash without clean_jobs`, line);
    }
    let difficulty = session.nextDifficulty;
    if (difficulty === undefined) {
      this.violation('mining.notify before any mining.set_difficulty; mining it at difficulty 1', line);
      difficulty = 1;
      session.nextDifficulty = 1;
    }
    if (session.nextExtranonce !== undefined) {
      session.extranonce1 = session.nextExtranonce.extranonce1;
      session.extranonce2Size = session.nextExtranonce.extranonce2Size;
      session.nextExtranonce = undefined;
    }
    if (this.options.restartExtranonce2 === true && previous?.jobId !== job.jobId)
      this.extranonce2Counter = 0;
    const target = targetForDifficulty(difficulty);
    session.job = {
      job,
      difficulty,
      target,
      targetTop: Number(target >> 224n),
      extranonce1: session.extranonce1,
      extranonce2Size: session.extranonce2Size,
    };
    // The newest job is always the one mined; clean_jobs only says older ones are now worthless.
    session.work = undefined;
    this.wake();
  }

  private onSetVersionMask(session: Session, mask: number, line: string): void {
    const asked = this.options.versionRolling?.mask;
    if (session.versionMask === undefined || asked === undefined) {
      this.violation('mining.set_version_mask without version rolling negotiated', line);
      return;
    }
    if ((mask & ~asked) >>> 0 !== 0) {
      this.violation(
        `mining.set_version_mask ${u32ToHex(mask)} has bits outside the ${u32ToHex(asked >>> 0)} asked for`,
        line,
      );
    }
    // Applies at once; a fresh extranonce2 keeps the new bits from repeating a header already tried.
    session.versionMask = (mask & asked) >>> 0;
    session.work = undefined;
  }

  private violation(message: string, line: string | undefined): void {
    this.violations.push({ at: Date.now(), message, line });
    this.waiters.changed();
  }

  // ---- mining ----

  private wake(): void {
    const session = this.session;
    if (!this.paused && !this.closed && session?.ready === true && session.job !== undefined) {
      scheduler.wake(this.turn);
    }
  }

  /** One scheduler turn; false when there is nothing to mine (the scheduler then drops this miner). */
  private mineChunk(): boolean {
    const session = this.session;
    if (this.paused || this.closed || session === undefined || session.closed || !session.ready) return false;
    if (session.job === undefined || session.authorized.length === 0) return false;
    let work = session.work ?? this.nextWork(session, session.job);
    for (let i = 0; i < this.hashesPerChunk; i++) {
      if (work.nonce >= work.nonceEnd) work = this.advance(session, work);
      const { header, job } = work;
      header.writeUInt32LE(work.nonce, 76);
      const digest = sha256d(header);
      const top = digest.readUInt32LE(28);
      if (top <= job.targetTop && (top < job.targetTop || hashValue(digest) <= job.target)) {
        this.submitShare(session, work, digest);
      }
      work.nonce += 1;
    }
    this.hashes += this.hashesPerChunk;
    if (this.waiters.waiting) this.waiters.changed();
    return true;
  }

  private nextWork(session: Session, job: MinerJob): Work {
    const extranonce2 = Buffer.alloc(job.extranonce2Size);
    let counter = this.extranonce2Counter++;
    for (let i = extranonce2.length - 1; i >= 0 && counter > 0; i--) {
      extranonce2[i] = counter % 256;
      counter = Math.floor(counter / 256);
    }
    const mask = session.versionMask;
    const versionBits = mask === undefined ? undefined : 0;
    const version = rolledVersion(job.job.version, mask ?? 0, 0);
    const work: Work = {
      job,
      extranonce2,
      header: headerTemplate(job.job, job.extranonce1, extranonce2, version),
      versionIndex: 0,
      versionBits,
      version,
      nonce: 0,
      nonceEnd: mask === undefined ? 2 ** 32 : this.noncesPerVersion,
    };
    session.work = work;
    return work;
  }

  /** Next version-bits value under the mask, or the next extranonce2 once they are used up. */
  private advance(session: Session, work: Work): Work {
    const mask = session.versionMask;
    if (mask !== undefined && work.versionIndex + 1 < 2 ** bitCount(mask)) {
      work.versionIndex += 1;
      work.versionBits = versionBitsAt(work.versionIndex, mask);
      work.version = rolledVersion(work.job.job.version, mask, work.versionBits);
      work.header.writeUInt32LE(work.version, 0);
      work.nonce = 0;
      return work;
    }
    return this.nextWork(session, work.job);
  }

  private submitShare(session: Session, work: Work, digest: Buffer): void {
    const now = Date.now();
    const cap = this.options.maxSharesPerSecond;
    if (cap !== undefined) {
      this.recentSubmits = this.recentSubmits.filter((sentAt) => sentAt > now - 1000);
      if (this.recentSubmits.length >= cap) {
        this.skippedShares += 1;
        return;
      }
      this.recentSubmits.push(now);
    }
    const worker = session.authorized[this.nextWorker++ % session.authorized.length]!;
    const { job } = work.job;
    const submit: Mutable<MinerSubmit> = {
      jobId: job.jobId,
      worker,
      extranonce2: work.extranonce2.toString('hex'),
      ntime: job.ntime,
      nonce: work.nonce,
      versionBits: work.versionBits,
      version: work.version,
      difficulty: work.job.difficulty,
      hash: displayHex(digest),
      sentAt: now,
      reply: undefined,
      answeredAt: undefined,
    };
    const params: JsonValue[] = [
      worker,
      job.jobId,
      submit.extranonce2,
      u32ToHex(job.ntime),
      u32ToHex(work.nonce),
    ];
    if (work.versionBits !== undefined) params.push(u32ToHex(work.versionBits));
    const id = this.nextId++;
    session.pending.set(id, {
      method: 'mining.submit',
      resolve: () => undefined,
      reject: () => undefined,
      submit,
    });
    this.submits.push(submit);
    this.write(session, serializeRequest(id, 'mining.submit', params), 'mining.submit', false);
  }
}

function openSocket(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = dial({ host, port });
    const fail = (error: Error): void => {
      reject(error);
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.off('error', fail);
      resolve(socket);
    });
  });
}

function endSession(session: Session): Promise<void> {
  session.closing = true;
  if (session.closed) return Promise.resolve();
  return new Promise((resolve) => {
    session.socket.once('close', () => {
      resolve();
    });
    session.socket.end();
    // A peer that never sends its FIN (a silent pool) must not hold the socket open.
    setTimeout(() => session.socket.destroy(), 200).unref();
  });
}

/** Round-robins every mining miner through chunks, yielding to I/O after each time slice. */
class MiningScheduler {
  private static readonly sliceMs = 10;
  private readonly turns: (() => boolean)[] = [];
  private cursor = 0;
  private scheduled = false;

  wake(turn: () => boolean): void {
    if (!this.turns.includes(turn)) this.turns.push(turn);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.turns.length === 0) return;
    this.scheduled = true;
    setImmediate(this.tick);
  }

  private readonly tick = (): void => {
    this.scheduled = false;
    const deadline = performance.now() + MiningScheduler.sliceMs;
    while (this.turns.length > 0) {
      this.cursor %= this.turns.length;
      if (this.turns[this.cursor]!()) this.cursor += 1;
      else this.turns.splice(this.cursor, 1);
      if (performance.now() >= deadline) break;
    }
    this.schedule();
  };
}

const scheduler = new MiningScheduler();
