/**
 * A Stratum V1 load generator that can point at any endpoint (a proxy, a pool, hashrelay or
 * another): it opens many miner connections in batches, handshakes each one (configure with
 * version rolling, subscribe, authorize), and submits valid shares at a set total rate spread
 * round-robin across the connections. Each share is found for the connection's current job,
 * extranonce1 and difficulty through src/work/share-check.ts; at a tiny difficulty (2^-32)
 * that is one hash, at a real one the generator's own hashing bounds the rate.
 *
 * Per submit it keeps the sent time, reply time and reply; per connection the arrival time of
 * its latest mining.notify (and a count). State per connection is a socket, a line framer and
 * a few fields; submit logs and notify times live in typed arrays, so 10,000 connections fit
 * in one process.
 */
import { readFileSync } from 'node:fs';
import { connect as dial, type Socket } from 'node:net';
import {
  bytesToHex,
  decodeBooleanResult,
  decodeConfigureResult,
  decodeSubscribeResult,
  LineFramer,
  parsePoolMessage,
  serializeRequest,
  serializeResult,
  u32ToHex,
  type JsonValue,
  type PoolRequest,
  type StratumResponse,
} from '../src/stratum/index.js';
import type { Job } from '../src/work/job.js';
import { checkShare, prepareJob, type PreparedJob } from '../src/work/share-check.js';
import { toDifficulty, type Difficulty } from '../src/work/types.js';
import { waitUntil } from './wait.js';

export interface LoadGeneratorOptions {
  readonly host: string;
  readonly port: number;
  readonly connections: number;
  readonly username: string;
  readonly password?: string;
  /** Connections opened at once; the next batch waits until these hold a job (default 500). */
  readonly batchSize?: number;
  /** A batch not connected, subscribed, authorized and given a job by then fails (default 30 s). */
  readonly handshakeTimeoutMs?: number;
  /** Ask for BIP 310 version rolling with this mask (default 0x1fffe000); 0 does not ask. */
  readonly versionRollingMask?: number;
  /** Hashes tried for one share before it is given up (counted in `unsolved`); default 65,536. */
  readonly maxHashesPerShare?: number;
  readonly userAgent?: string;
  /** Dial from this local address (e.g. another 127.x.y.z: the endpoint sees a different miner host). */
  readonly localAddress?: string;
}

export interface RunOptions {
  /** Shares per second offered, in total across all connections. */
  readonly rate: number;
  readonly seconds: number;
  /**
   * Submits awaiting an answer beyond which sending pauses and the shares it would have sent
   * are counted as `skipped` (the endpoint is saturated). Default: two seconds' worth.
   */
  readonly maxOutstanding?: number;
  /** How long to wait for the last answers after the send window (default 10 s). */
  readonly drainTimeoutMs?: number;
}

export const ReplyKind = { none: 0, accepted: 1, refused: 2, error: 3 } as const;

/** One run's submits as parallel arrays, index = submit sequence number within the run. */
export interface SubmitLog {
  readonly rate: number;
  readonly seconds: number;
  /** performance.now() at the start and end of the send window. */
  readonly startedAt: number;
  readonly endedAt: number;
  readonly count: number;
  readonly sentAt: Float64Array;
  /** performance.now() when the chunk holding the answer was read; NaN when none came. */
  readonly replyAt: Float64Array;
  /** A ReplyKind per submit. */
  readonly reply: Uint8Array;
  /** Unique within the generator (until 2^32 hashes): the key to find a share at the pool. */
  readonly nonce: Uint32Array;
  readonly connection: Uint32Array;
  /** Error replies by `code message`. */
  readonly errors: ReadonlyMap<string, number>;
  /** Scheduled shares not sent because too many were outstanding or no connection had work. */
  readonly skipped: number;
  /** Shares given up after maxHashesPerShare hashes (the difficulty is too high for a CPU). */
  readonly unsolved: number;
}

const CONFIGURE_ID = 1;
const SUBSCRIBE_ID = 2;
const AUTHORIZE_ID = 3;
const FIRST_SUBMIT_ID = 1000;
/** Distinct notify lines remembered: a proxy sends the same bytes to every miner of a session. */
const JOB_CACHE_SIZE = 64;
const TICK_MS = 1;
const CLOSED_BY_ENDPOINT = 'closed by the endpoint';
const readBuffer = Buffer.allocUnsafe(256 * 1024);

/** One miner connection: as little state as a miner needs. */
class MinerLink {
  readonly framer = new LineFramer({ maxLineLength: 1024 * 1024 });
  extranonce1: Uint8Array | undefined;
  extranonce2Size = 0;
  extranonce2Counter = 0;
  /** set_difficulty and set_extranonce apply from the next job. */
  nextDifficulty: Difficulty = toDifficulty(1);
  nextExtranonce: { extranonce1: Uint8Array; extranonce2Size: number } | undefined;
  difficulty: Difficulty = toDifficulty(1);
  versionMask = 0;
  job: Job | undefined;
  prepared: PreparedJob | undefined;
  authorized = false;
  /** Why the connection failed or closed; undefined while it is open. */
  failure: string | undefined;
  errorCode: string | undefined;

  constructor(
    readonly index: number,
    readonly socket: Socket,
  ) {}

  isReady(): boolean {
    return (
      this.failure === undefined &&
      this.authorized &&
      this.extranonce1 !== undefined &&
      this.job !== undefined
    );
  }
}

interface ActiveRun {
  readonly firstId: number;
  readonly capacity: number;
  count: number;
  answered: number;
  readonly sentAt: Float64Array;
  readonly replyAt: Float64Array;
  readonly reply: Uint8Array;
  readonly nonce: Uint32Array;
  readonly connection: Uint32Array;
  readonly errors: Map<string, number>;
}

export class LoadGenerator {
  /** performance.now() when each connection's latest mining.notify was read. */
  readonly notifyAt: Float64Array;
  /** mining.notify messages each connection has received. */
  readonly notifyCount: Uint32Array;
  /** Called for every mining.notify, for callers that want more than the latest. */
  onNotify: ((connection: number, at: number) => void) | undefined;
  private readonly options: LoadGeneratorOptions;
  private readonly links: MinerLink[] = [];
  private readonly jobCache = new Map<string, Job>();
  private nextNonce = (Math.random() * 2 ** 32) >>> 0;
  private nextSubmitId = FIRST_SUBMIT_ID;
  private cursor = 0;
  private run: ActiveRun | undefined;
  private readyCount = 0;
  private unsolved = 0;
  private closing = false;
  /** Read up front: once descriptors run out, /proc cannot be read to say so. */
  private readonly fileLimit = openFileLimit();
  /** Connections the other side closed after the handshake, by reason. */
  readonly disconnects = new Map<string, number>();

  constructor(options: LoadGeneratorOptions) {
    if (!Number.isSafeInteger(options.connections) || options.connections < 1)
      throw new RangeError(`connections must be a positive integer, got ${options.connections}`);
    this.options = options;
    this.notifyAt = new Float64Array(options.connections).fill(Number.NaN);
    this.notifyCount = new Uint32Array(options.connections);
  }

  /** Connections holding a job and able to submit. */
  get ready(): number {
    return this.readyCount;
  }

  /**
   * Opens every connection, a batch at a time (so the listen backlog is never overrun), and
   * resolves when all of them are subscribed, authorized and hold a job. Rejects with the first
   * failure, with a hint for running out of file descriptors or ports.
   */
  async connect(): Promise<{ seconds: number }> {
    const started = performance.now();
    const total = this.options.connections;
    const batchSize = this.options.batchSize ?? 500;
    const timeoutMs = this.options.handshakeTimeoutMs ?? 30_000;
    for (let first = 0; first < total; first += batchSize) {
      const end = Math.min(total, first + batchSize);
      for (let index = first; index < end; index++) this.links.push(this.open(index));
      const batch = this.links.slice(first, end);
      await waitUntil(
        () => batch.every((link) => link.isReady() || link.failure !== undefined),
        timeoutMs,
        `connections ${first}-${end - 1} to ${this.endpoint} to handshake and receive a job`,
        () => `${batch.filter((link) => link.isReady()).length} of ${batch.length} ready`,
      );
      const failed = batch.find((link) => link.failure !== undefined);
      if (failed !== undefined) throw new Error(this.describeFailure(failed));
    }
    return { seconds: (performance.now() - started) / 1000 };
  }

  /**
   * Submits valid shares at `rate` per second for `seconds`, round-robin over ready
   * connections, then waits for the outstanding answers. The schedule is open-loop: a share
   * is sent when it is due, whatever the answers to earlier ones.
   */
  async submitAtRate(options: RunOptions): Promise<SubmitLog> {
    if (this.run !== undefined) throw new Error('a run is already in progress');
    const { rate, seconds } = options;
    const scheduled = Math.round(rate * seconds);
    const capacity = scheduled + 16;
    const maxOutstanding = options.maxOutstanding ?? Math.max(1000, rate * 2);
    const run: ActiveRun = {
      firstId: this.nextSubmitId,
      capacity,
      count: 0,
      answered: 0,
      sentAt: new Float64Array(capacity),
      replyAt: new Float64Array(capacity).fill(Number.NaN),
      reply: new Uint8Array(capacity),
      nonce: new Uint32Array(capacity),
      connection: new Uint32Array(capacity),
      errors: new Map(),
    };
    this.run = run;
    const unsolvedBefore = this.unsolved;
    let due = 0;
    let skipped = 0;
    const startedAt = performance.now();
    try {
      while (due < scheduled) {
        await new Promise((resolve) => setTimeout(resolve, TICK_MS));
        const now = performance.now();
        const dueNow = Math.min(scheduled, Math.floor(((now - startedAt) * rate) / 1000));
        for (; due < dueNow; due++) {
          if (run.count - run.answered >= maxOutstanding || !this.submitOne(run)) skipped++;
        }
      }
      const endedAt = performance.now();
      await waitUntil(
        () => run.answered >= run.count || this.readyCount === 0,
        options.drainTimeoutMs ?? 10_000,
        'answers to the last submits',
        () => `${run.count - run.answered} of ${run.count} unanswered`,
        10,
      ).catch(() => undefined); // unanswered shares are reported as such
      return {
        rate,
        seconds,
        startedAt,
        endedAt,
        count: run.count,
        sentAt: run.sentAt.subarray(0, run.count),
        replyAt: run.replyAt.subarray(0, run.count),
        reply: run.reply.subarray(0, run.count),
        nonce: run.nonce.subarray(0, run.count),
        connection: run.connection.subarray(0, run.count),
        errors: run.errors,
        skipped,
        unsolved: this.unsolved - unsolvedBefore,
      };
    } finally {
      // Late answers after this are ignored: their ids fall outside the next run's range.
      this.run = undefined;
    }
  }

  /**
   * Per connection, milliseconds from `since` to the first mining.notify read after it, once
   * every open connection has one or `timeoutMs` has passed (NaN where none came).
   */
  async notifyLatencies(since: number, timeoutMs: number): Promise<Float64Array> {
    const open = this.links.filter((link) => link.failure === undefined);
    await waitUntil(
      () => open.every((link) => this.notifyAt[link.index]! >= since),
      timeoutMs,
      'every connection to receive the new job',
      () => `${open.filter((link) => this.notifyAt[link.index]! >= since).length} of ${open.length}`,
      2,
    ).catch(() => undefined); // missing ones are reported as NaN
    return Float64Array.from(open, (link) => {
      const at = this.notifyAt[link.index]!;
      return at >= since ? at - since : Number.NaN;
    });
  }

  /** Resets every connection (no TIME_WAIT left behind to use up local ports). */
  close(): void {
    this.closing = true;
    for (const link of this.links) {
      if (!link.socket.destroyed) link.socket.resetAndDestroy();
    }
  }

  private get endpoint(): string {
    return `${this.options.host}:${this.options.port}`;
  }

  private open(index: number): MinerLink {
    // Reads land in one buffer shared by every connection (the framer copies what it keeps):
    // no per-read allocation and none of the stream machinery, so reading stays cheap at 10,000.
    // eslint-disable-next-line prefer-const -- assigned once the socket exists; read only after
    let link!: MinerLink;
    const socket = dial({
      host: this.options.host,
      port: this.options.port,
      localAddress: this.options.localAddress,
      onread: {
        buffer: readBuffer,
        callback: (bytes, buffer) => {
          this.onData(link, buffer.subarray(0, bytes));
          return true;
        },
      },
    });
    link = new MinerLink(index, socket);
    socket.setNoDelay(true);
    socket.once('connect', () => {
      const mask = this.options.versionRollingMask ?? 0x1fffe000;
      let handshake = '';
      if (mask !== 0)
        handshake += serializeRequest(CONFIGURE_ID, 'mining.configure', [
          ['version-rolling'],
          { 'version-rolling.mask': u32ToHex(mask), 'version-rolling.min-bit-count': 2 },
        ]);
      handshake += serializeRequest(SUBSCRIBE_ID, 'mining.subscribe', [
        this.options.userAgent ?? 'hashrelay-loadgen/0.1',
      ]);
      handshake += serializeRequest(AUTHORIZE_ID, 'mining.authorize', [
        this.options.username,
        this.options.password ?? 'x',
      ]);
      socket.write(handshake);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      link.errorCode ??= error.code;
      this.fail(link, `socket error: ${error.message}`);
    });
    socket.on('close', () => {
      this.fail(link, CLOSED_BY_ENDPOINT);
    });
    return link;
  }

  private fail(link: MinerLink, reason: string): void {
    if (link.failure !== undefined) return;
    if (link.isReady()) {
      this.readyCount--;
      if (!this.closing) this.disconnects.set(reason, (this.disconnects.get(reason) ?? 0) + 1);
    }
    link.failure = reason;
    link.socket.destroy();
  }

  private describeFailure(link: MinerLink): string {
    const reason = `connection ${link.index} to ${this.endpoint} failed: ${link.failure ?? '?'}`;
    if (link.errorCode === 'EMFILE' || link.errorCode === 'ENFILE') {
      const limit = this.fileLimit === undefined ? '' : ` (ulimit -n is ${this.fileLimit})`;
      return (
        `${reason}\nOut of file descriptors at connection ${link.index}${limit}: raise it with \`ulimit -n\` ` +
        `(at least ${this.options.connections + 256} for this process), or use fewer connections.`
      );
    }
    if (link.errorCode === 'EADDRNOTAVAIL') {
      return `${reason}\nOut of local ports: widen net.ipv4.ip_local_port_range, or wait for TIME_WAIT sockets to clear.`;
    }
    if (link.failure === CLOSED_BY_ENDPOINT && !link.authorized) {
      return (
        `${reason}\nThe endpoint closed it during the handshake: it may be out of file descriptors ` +
        '(a server at its limit accepts and closes at once), full, or refusing this username.'
      );
    }
    return reason;
  }

  private onData(link: MinerLink, chunk: Uint8Array): void {
    const at = performance.now();
    const { lines, overflow } = link.framer.push(chunk);
    if (overflow) {
      this.fail(link, 'endpoint sent an over-long line');
      return;
    }
    for (const line of lines) {
      const job = this.jobCache.get(line);
      if (job !== undefined) {
        this.onJob(link, job, at);
        continue;
      }
      const parsed = parsePoolMessage(line);
      if (!parsed.ok) continue; // not ours to judge; a strict client would count these
      const message = parsed.message;
      if (message.kind === 'response') this.onResponse(link, message, at);
      else this.onRequest(link, message, line, at);
    }
  }

  private onRequest(link: MinerLink, message: PoolRequest, line: string, at: number): void {
    switch (message.kind) {
      case 'mining.notify':
        if (this.jobCache.size >= JOB_CACHE_SIZE) {
          const oldest = this.jobCache.keys().next().value;
          if (oldest !== undefined) this.jobCache.delete(oldest);
        }
        this.jobCache.set(line, message.job);
        this.onJob(link, message.job, at);
        break;
      case 'mining.set_difficulty':
        link.nextDifficulty = message.difficulty;
        break;
      case 'mining.set_version_mask':
        link.versionMask = message.mask;
        break;
      case 'mining.set_extranonce':
        link.nextExtranonce = {
          extranonce1: message.extranonce1,
          extranonce2Size: message.extranonce2Size,
        };
        break;
      case 'mining.ping':
        link.socket.write(serializeResult(message.id, 'pong'));
        break;
      case 'client.get_version':
        link.socket.write(serializeResult(message.id, this.options.userAgent ?? 'hashrelay-loadgen/0.1'));
        break;
      case 'client.reconnect':
      case 'client.show_message':
      case 'unknown':
        break;
    }
  }

  private onJob(link: MinerLink, job: Job, at: number): void {
    const wasReady = link.isReady();
    if (link.nextExtranonce !== undefined) {
      link.extranonce1 = link.nextExtranonce.extranonce1;
      link.extranonce2Size = link.nextExtranonce.extranonce2Size;
      link.nextExtranonce = undefined;
    }
    link.job = job;
    link.difficulty = link.nextDifficulty;
    link.prepared = undefined;
    this.notifyAt[link.index] = at;
    this.notifyCount[link.index]!++;
    if (!wasReady && link.isReady()) this.readyCount++;
    this.onNotify?.(link.index, at);
  }

  private onResponse(link: MinerLink, response: StratumResponse, at: number): void {
    const id = response.id;
    if (typeof id !== 'number') return;
    if (id >= FIRST_SUBMIT_ID) {
      this.onSubmitAnswer(response, id, at);
      return;
    }
    const wasReady = link.isReady();
    switch (id) {
      case CONFIGURE_ID: {
        const decoded = decodeConfigureResult(response.result, id);
        link.versionMask =
          decoded.ok && decoded.value.accepted.get('version-rolling') === true
            ? (decoded.value.versionRollingMask ?? 0)
            : 0;
        break;
      }
      case SUBSCRIBE_ID: {
        const decoded = decodeSubscribeResult(response.result, id);
        if (response.error !== null || !decoded.ok) {
          this.fail(
            link,
            `subscribe refused: ${response.error?.message ?? (decoded.ok ? '' : decoded.error.message)}`,
          );
          return;
        }
        link.extranonce1 = decoded.value.extranonce1;
        link.extranonce2Size = decoded.value.extranonce2Size;
        break;
      }
      case AUTHORIZE_ID: {
        const decoded = decodeBooleanResult(response.result, id);
        if (response.error !== null || !decoded.ok || !decoded.value) {
          this.fail(link, `authorize refused: ${response.error?.message ?? 'result false'}`);
          return;
        }
        link.authorized = true;
        break;
      }
    }
    if (!wasReady && link.isReady()) this.readyCount++;
  }

  private onSubmitAnswer(response: StratumResponse, id: number, at: number): void {
    const run = this.run;
    if (run === undefined) return;
    const index = id - run.firstId;
    if (index < 0 || index >= run.count || run.reply[index] !== ReplyKind.none) return;
    run.replyAt[index] = at;
    run.answered++;
    if (response.error !== null) {
      run.reply[index] = ReplyKind.error;
      const key = `${response.error.code} ${response.error.message.slice(0, 120)}`;
      run.errors.set(key, (run.errors.get(key) ?? 0) + 1);
      return;
    }
    run.reply[index] = response.result === true ? ReplyKind.accepted : ReplyKind.refused;
  }

  /** Sends one share on the next ready connection; false if none could take it. */
  private submitOne(run: ActiveRun): boolean {
    const count = this.links.length;
    for (let tried = 0; tried < count; tried++) {
      const link = this.links[this.cursor]!;
      this.cursor = (this.cursor + 1) % count;
      if (link.isReady()) return this.submitOn(link, run);
    }
    return false;
  }

  private submitOn(link: MinerLink, run: ActiveRun): boolean {
    if (run.count >= run.capacity) return false;
    const job = link.job!;
    const extranonce1 = link.extranonce1!;
    link.prepared ??= prepareJob(job, extranonce1);
    // A fresh extranonce2 per share (its low four bytes count up) and a nonce unique across
    // the generator: no two shares collide, and the nonce alone identifies a share at the pool.
    const extranonce2 = new Uint8Array(link.extranonce2Size);
    const counter = link.extranonce2Counter++ >>> 0;
    for (let i = 0; i < Math.min(4, extranonce2.length); i++)
      extranonce2[extranonce2.length - 1 - i] = (counter >>> (8 * i)) & 0xff;
    const versionBits =
      link.versionMask === 0 ? undefined : (Math.imul(counter, 0x2000) & link.versionMask) >>> 0;
    const maxHashes = this.options.maxHashesPerShare ?? 65_536;
    for (let attempt = 0; attempt < maxHashes; attempt++) {
      const nonce = this.nextNonce;
      this.nextNonce = (this.nextNonce + 1) >>> 0;
      const verdict = checkShare({
        job: link.prepared,
        extranonce2Size: link.extranonce2Size,
        submission: { extranonce2, ntime: job.ntime, nonce, versionBits },
        versionMask: link.versionMask,
        assignedDifficulty: link.difficulty,
      });
      if (verdict.work === null) throw new Error(`load generator built a malformed share: ${verdict.detail}`);
      if (!verdict.valid) continue;
      const params: JsonValue[] = [
        this.options.username,
        job.jobId,
        bytesToHex(extranonce2),
        u32ToHex(job.ntime),
        u32ToHex(nonce),
      ];
      if (versionBits !== undefined) params.push(u32ToHex(versionBits));
      const index = run.count++;
      const id = this.nextSubmitId++;
      run.nonce[index] = nonce;
      run.connection[index] = link.index;
      run.sentAt[index] = performance.now();
      link.socket.write(serializeRequest(id, 'mining.submit', params));
      return true;
    }
    this.unsolved++;
    return false;
  }
}

/** This process's soft limit on open files (Linux /proc), or undefined where it cannot be read. */
export function openFileLimit(): number | undefined {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    if (match?.[1] === undefined) return undefined;
    return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
  } catch {
    return undefined;
  }
}
