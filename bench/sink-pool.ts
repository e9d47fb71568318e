/**
 * A minimal Stratum V1 pool for load benchmarks: real TCP, every connection granted what it
 * asks for, every submit answered true without a share check (it is a sink), and each submit's
 * arrival time kept so a benchmark can follow a share from a miner to the pool. The difficulty
 * is tiny (2^-32 by default) so a proxy in front forwards every share it accepts.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import {
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
  type ConfigureRequest,
  type JsonValue,
  type MinerRequest,
} from '../src/stratum/index.js';
import type { Job } from '../src/work/job.js';
import { SYNTHETIC_EXTRANONCE2_SIZE, syntheticJob } from './synthetic-job.js';

export interface SinkPoolOptions {
  readonly host?: string;
  /** 0 (the default) picks a free port; read it from `.port`. */
  readonly port?: number;
  /** Sent in mining.set_difficulty before the first job (default 2^-32). */
  readonly difficulty?: number;
  /** The version-rolling bits granted (each connection gets `mask & what it asked for`). */
  readonly versionMask?: number;
  /** Random merkle branches in each job (default 2). */
  readonly branches?: number;
}

/** Every submit the sink received, in arrival order, as parallel arrays. */
export interface SinkSubmits {
  readonly count: number;
  /** performance.now() when the chunk holding the submit was read. */
  readonly at: Float64Array;
  readonly nonce: Uint32Array;
  readonly ntime: Uint32Array;
  /** Hex, as submitted (after a proxy: the upstream extranonce2, pad ‖ slot ‖ miner's). */
  readonly extranonce2: readonly string[];
}

const EXTRANONCE2_SIZE = SYNTHETIC_EXTRANONCE2_SIZE;
const SUBSCRIPTION_ID = 'sink';

class SinkConnection {
  readonly framer = new LineFramer({ maxLineLength: 64 * 1024 });
  subscribed = false;

  constructor(
    readonly socket: Socket,
    readonly extranonce1: Buffer,
  ) {}
}

export class SinkPool {
  readonly host: string;
  readonly port: number;
  private readonly server: Server;
  private readonly difficulty: number;
  private readonly versionMask: number;
  private readonly branches: number;
  private readonly connections = new Set<SinkConnection>();
  private lastBroadcastDurationMs = 0;
  private nextExtranonce1 = 1;
  private nextJobSerial = 1;
  private job: Job;
  private notifyLine: Buffer;
  private submits = newSubmitLog();

  private constructor(server: Server, options: SinkPoolOptions) {
    this.server = server;
    const address = server.address() as AddressInfo;
    this.host = address.address;
    this.port = address.port;
    this.difficulty = options.difficulty ?? 2 ** -32;
    this.versionMask = options.versionMask ?? 0x1fffe000;
    this.branches = options.branches ?? 2;
    this.job = this.makeJob();
    this.notifyLine = serializeNotify(this.job);
  }

  static async start(options: SinkPoolOptions = {}): Promise<SinkPool> {
    const server = createServer();
    // Far above the default 511: a load generator connects in bursts of hundreds.
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0, backlog: 4096 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const pool = new SinkPool(server, options);
    server.on('connection', (socket) => {
      pool.onConnection(socket);
    });
    return pool;
  }

  /** Subscribed connections (what a broadcast reaches). */
  get subscribedConnections(): number {
    let count = 0;
    for (const connection of this.connections) if (connection.subscribed) count++;
    return count;
  }

  /** How long the last broadcast's write loop took, ms (a loopback write does both ends' TCP work). */
  get lastBroadcastMs(): number {
    return this.lastBroadcastDurationMs;
  }

  get submitCount(): number {
    return this.submits.count;
  }

  /**
   * Sends a fresh clean job to every subscribed connection, the same bytes to each. Returns
   * performance.now() taken just before the first write.
   */
  broadcastCleanJob(): number {
    this.job = this.makeJob();
    this.notifyLine = serializeNotify(this.job);
    const at = performance.now();
    for (const connection of this.connections) {
      if (connection.subscribed) connection.socket.write(this.notifyLine);
    }
    this.lastBroadcastDurationMs = performance.now() - at;
    return at;
  }

  /**
   * Sends the current job again as a new notify, the same job id and content (clean_jobs
   * false), as a pool that repeats itself does: a proxy must not let a share count twice.
   */
  resendJob(): void {
    const line = serializeNotify({ ...this.job, cleanJobs: false });
    for (const connection of this.connections) {
      if (connection.subscribed) connection.socket.write(line);
    }
  }

  /** The submits received since the last call, and a fresh log for the next ones. */
  takeSubmits(): SinkSubmits {
    const log = this.submits;
    this.submits = newSubmitLog();
    return {
      count: log.count,
      at: log.at.subarray(0, log.count),
      nonce: log.nonce.subarray(0, log.count),
      ntime: log.ntime.subarray(0, log.count),
      extranonce2: log.extranonce2,
    };
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.socket.destroy();
    this.connections.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }

  private makeJob(): Job {
    return syntheticJob({
      serial: this.nextJobSerial++,
      tag: 'sink',
      prevhash: randomBytes(32),
      branches: this.branches,
      clean: true,
    });
  }

  private onConnection(socket: Socket): void {
    socket.setNoDelay(true);
    const extranonce1 = Buffer.alloc(4);
    extranonce1.writeUInt32BE(this.nextExtranonce1++ >>> 0);
    const connection = new SinkConnection(socket, extranonce1);
    this.connections.add(connection);
    socket.on('data', (chunk: Buffer) => {
      this.onData(connection, chunk);
    });
    // A load generator resets its connections at the end: nothing to report.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.connections.delete(connection);
    });
  }

  private onData(connection: SinkConnection, chunk: Buffer): void {
    const at = performance.now();
    const { lines, overflow } = connection.framer.push(chunk);
    if (overflow) {
      connection.socket.destroy();
      return;
    }
    // One write per chunk, however many requests it held.
    let out = '';
    for (const line of lines) {
      const parsed = parseMinerMessage(line);
      if (!parsed.ok) {
        out += serializeParseError(parsed.error);
        continue;
      }
      if (parsed.message.kind === 'response') continue;
      out += this.answer(connection, parsed.message, at);
    }
    if (out !== '') connection.socket.write(out);
  }

  private answer(connection: SinkConnection, request: MinerRequest, at: number): string {
    switch (request.kind) {
      case 'mining.submit':
        this.record(at, request.nonce, request.ntime, request.extranonce2);
        return serializeResult(request.id, true);
      case 'mining.configure':
        return serializeResult(request.id, this.configureResult(request));
      case 'mining.subscribe': {
        const reply = serializeResult(
          request.id,
          encodeSubscribeResult({
            subscriptions: [
              ['mining.set_difficulty', SUBSCRIPTION_ID],
              ['mining.notify', SUBSCRIPTION_ID],
            ],
            extranonce1: connection.extranonce1,
            extranonce2Size: EXTRANONCE2_SIZE,
          }),
        );
        connection.subscribed = true;
        // Work follows the subscribe answer at once, as most pools do.
        return (
          reply +
          serializeRequest(null, 'mining.set_difficulty', [this.difficulty]) +
          this.notifyLine.toString('utf8')
        );
      }
      case 'mining.authorize':
      case 'mining.extranonce.subscribe':
      case 'mining.suggest_difficulty':
        return serializeResult(request.id, true);
      case 'unknown':
        return serializeError(
          request.id,
          JsonRpcErrorCode.methodNotFound,
          `method ${request.method} is not supported`,
        );
    }
  }

  private configureResult(request: ConfigureRequest): JsonValue {
    const accepted = new Map<string, boolean>();
    let mask: number | undefined;
    for (const extension of request.extensions) {
      if (extension === 'version-rolling') {
        mask = ((request.versionRollingMask ?? 0xffffffff) & this.versionMask) >>> 0;
        accepted.set(extension, true);
      } else {
        accepted.set(extension, false);
      }
    }
    return encodeConfigureResult({ accepted, versionRollingMask: mask });
  }

  private record(at: number, nonce: number, ntime: number, extranonce2: Uint8Array): void {
    let log = this.submits;
    if (log.count === log.at.length) {
      log = growSubmitLog(log);
      this.submits = log;
    }
    log.at[log.count] = at;
    log.nonce[log.count] = nonce;
    log.ntime[log.count] = ntime;
    log.extranonce2.push(Buffer.from(extranonce2).toString('hex'));
    log.count++;
  }
}

interface SubmitLog {
  count: number;
  at: Float64Array;
  nonce: Uint32Array;
  ntime: Uint32Array;
  extranonce2: string[];
}

function newSubmitLog(capacity = 65_536): SubmitLog {
  return {
    count: 0,
    at: new Float64Array(capacity),
    nonce: new Uint32Array(capacity),
    ntime: new Uint32Array(capacity),
    extranonce2: [],
  };
}

function growSubmitLog(log: SubmitLog): SubmitLog {
  const grown = newSubmitLog(log.at.length * 2);
  grown.at.set(log.at);
  grown.nonce.set(log.nonce);
  grown.ntime.set(log.ntime);
  grown.extranonce2 = log.extranonce2;
  grown.count = log.count;
  return grown;
}
