/**
 * A minimal Stratum V1 pool standing for one validator in the split-accuracy benchmark: real
 * TCP; as a real pool, a job refresh every `jobIntervalMs` (clean_jobs false: earlier jobs stay
 * valid) and a new block every `blockIntervalMs` (a clean job: earlier ones go stale); every
 * submit answered true at a tiny difficulty (so a proxy in front forwards every share it
 * accepts); each submit's arrival time, nonce and whether it was on a job still valid kept.
 * Each block's prevhash is random and announced through `onBlock`, so a miner behind a proxy
 * can tell which pool its work came from by the job's content alone.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import {
  encodeSubscribeResult,
  JsonRpcErrorCode,
  LineFramer,
  parseMinerMessage,
  serializeError,
  serializeNotify,
  serializeParseError,
  serializeRequest,
  serializeResult,
  type MinerRequest,
} from '../src/stratum/index.js';
import type { Job } from '../src/work/job.js';
import { SYNTHETIC_EXTRANONCE2_SIZE, syntheticJob } from './synthetic-job.js';
import { toJobId } from '../src/work/types.js';

export interface CountingPoolOptions {
  readonly jobIntervalMs: number;
  readonly blockIntervalMs: number;
  /** Called with each new block's prevhash (hex, as notified) before its first job is sent. */
  readonly onBlock: (prevhashHex: string) => void;
  /** Sent in mining.set_difficulty (default 2^-32: every share the proxy accepts is forwarded). */
  readonly difficulty?: number;
}

/** Submits in arrival order, as parallel arrays. */
export interface PoolSubmits {
  readonly count: number;
  /** performance.now() when the chunk holding the submit was read. */
  readonly at: Float64Array;
  readonly nonce: Uint32Array;
  /** 1 when the submit named a job from before the last clean job (a real pool would refuse it). */
  readonly stale: Uint8Array;
}

const EXTRANONCE2_SIZE = SYNTHETIC_EXTRANONCE2_SIZE;

export class CountingPool {
  readonly port: number;
  private readonly server: Server;
  private readonly options: CountingPoolOptions;
  private readonly sockets = new Map<Socket, LineFramer>();
  private readonly subscribed = new Set<Socket>();
  private jobTimer: NodeJS.Timeout | undefined;
  private blockTimer: NodeJS.Timeout | undefined;
  /** Jobs a share may name: those since the last clean one. */
  private readonly valid = new Set<string>();
  private prevhash: Buffer;
  private nextExtranonce1 = 1;
  private nextJobSerial = 1;
  private job: Job;
  private notifyLine: Buffer;
  private count = 0;
  private at = new Float64Array(65_536);
  private nonce = new Uint32Array(65_536);
  private stale = new Uint8Array(65_536);

  private constructor(server: Server, options: CountingPoolOptions) {
    this.server = server;
    this.options = options;
    this.port = (server.address() as AddressInfo).port;
    this.prevhash = this.newBlock();
    this.job = this.makeJob(true);
    this.notifyLine = serializeNotify(this.job);
  }

  static async start(options: CountingPoolOptions): Promise<CountingPool> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const pool = new CountingPool(server, options);
    server.on('connection', (socket) => {
      pool.onConnection(socket);
    });
    pool.jobTimer = setInterval(() => {
      pool.broadcastJob(false);
    }, options.jobIntervalMs);
    pool.blockTimer = setInterval(() => {
      pool.prevhash = pool.newBlock();
      pool.broadcastJob(true);
    }, options.blockIntervalMs);
    return pool;
  }

  /** Connections that subscribed (the proxy's upstream sessions). */
  get subscribedConnections(): number {
    return this.subscribed.size;
  }

  /** Every submit received so far. */
  submits(): PoolSubmits {
    return {
      count: this.count,
      at: this.at.subarray(0, this.count),
      nonce: this.nonce.subarray(0, this.count),
      stale: this.stale.subarray(0, this.count),
    };
  }

  async close(): Promise<void> {
    clearInterval(this.jobTimer);
    clearInterval(this.blockTimer);
    for (const socket of this.sockets.keys()) socket.destroy();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }

  private broadcastJob(clean: boolean): void {
    this.job = this.makeJob(clean);
    this.notifyLine = serializeNotify(this.job);
    for (const socket of this.subscribed) socket.write(this.notifyLine);
  }

  private newBlock(): Buffer {
    const prevhash = randomBytes(32);
    this.options.onBlock(prevhash.toString('hex'));
    return prevhash;
  }

  private makeJob(clean: boolean): Job {
    const jobId = toJobId((this.nextJobSerial++).toString(16));
    if (clean) this.valid.clear();
    this.valid.add(jobId);
    return {
      ...syntheticJob({ serial: 0, tag: 'count', prevhash: this.prevhash, branches: 2, clean }),
      jobId,
    };
  }

  private onConnection(socket: Socket): void {
    socket.setNoDelay(true);
    const extranonce1 = Buffer.alloc(4);
    extranonce1.writeUInt32BE(this.nextExtranonce1++ >>> 0);
    this.sockets.set(socket, new LineFramer({ maxLineLength: 64 * 1024 }));
    socket.on('data', (chunk: Buffer) => {
      this.onData(socket, extranonce1, chunk);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.subscribed.delete(socket);
    });
  }

  private onData(socket: Socket, extranonce1: Buffer, chunk: Buffer): void {
    const at = performance.now();
    const framer = this.sockets.get(socket);
    if (framer === undefined) return;
    const { lines, overflow } = framer.push(chunk);
    if (overflow) {
      socket.destroy();
      return;
    }
    let out = '';
    for (const line of lines) {
      const parsed = parseMinerMessage(line);
      if (!parsed.ok) {
        out += serializeParseError(parsed.error);
        continue;
      }
      if (parsed.message.kind === 'response') continue;
      out += this.answer(socket, extranonce1, parsed.message, at);
    }
    if (out !== '') socket.write(out);
  }

  private answer(socket: Socket, extranonce1: Buffer, request: MinerRequest, at: number): string {
    switch (request.kind) {
      case 'mining.submit':
        this.record(at, request.nonce, !this.valid.has(request.jobId));
        return serializeResult(request.id, true);
      case 'mining.subscribe':
        this.subscribed.add(socket);
        return (
          serializeResult(
            request.id,
            encodeSubscribeResult({
              subscriptions: [
                ['mining.set_difficulty', 'count'],
                ['mining.notify', 'count'],
              ],
              extranonce1,
              extranonce2Size: EXTRANONCE2_SIZE,
            }),
          ) +
          serializeRequest(null, 'mining.set_difficulty', [this.options.difficulty ?? 2 ** -32]) +
          this.notifyLine.toString('utf8')
        );
      case 'mining.configure':
        return serializeResult(request.id, {});
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

  private record(at: number, nonce: number, stale: boolean): void {
    if (this.count === this.at.length) {
      const grow = <T extends Float64Array | Uint32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.at = grow(this.at, (n) => new Float64Array(n));
      this.nonce = grow(this.nonce, (n) => new Uint32Array(n));
      this.stale = grow(this.stale, (n) => new Uint8Array(n));
    }
    this.at[this.count] = at;
    this.nonce[this.count] = nonce;
    this.stale[this.count] = stale ? 1 : 0;
    this.count++;
  }
}
