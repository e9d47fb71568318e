/**
 * A Stratum client with no behaviour of its own: it sends exactly what a test tells it to and
 * keeps everything it receives. For crafting shares and malformed or out-of-order requests that
 * a well-behaved miner would never send.
 */
import { connect as dial, type Socket } from 'node:net';
import {
  decodeConfigureResult,
  decodeSubscribeResult,
  LineFramer,
  parsePoolMessage,
  serializeRequest,
  u32ToHex,
  type JsonValue,
  type PoolMessage,
  type StratumResponse,
} from '../../src/stratum/index.js';
import type { Job } from '../../src/work/job.js';
import { inboundLine, type SniffedLine } from './sniffer.js';
import { Waiters } from './waiters.js';

export interface RawShare {
  readonly worker: string;
  readonly jobId: string;
  readonly extranonce2: Uint8Array;
  readonly ntime: number;
  readonly nonce: number;
  readonly versionBits?: number;
}

export class RawStratumClient {
  readonly log: SniffedLine[] = [];
  /** Every decodable message received, in order. */
  readonly messages: PoolMessage[] = [];
  /** `mining.notify` jobs in arrival order. */
  readonly jobs: Job[] = [];
  /** `mining.set_difficulty` values in arrival order. */
  readonly difficulties: number[] = [];
  extranonce1: Uint8Array = new Uint8Array(0);
  extranonce2Size = 0;
  private readonly framer = new LineFramer({ maxLineLength: 1024 * 1024 });
  private readonly waiters = new Waiters<RawStratumClient>(this);
  private readonly pending = new Map<
    number,
    { method: string; resolve: (response: StratumResponse) => void }
  >();
  private nextId = 1;
  private closedFlag = false;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      for (const line of this.framer.push(chunk).lines) this.receive(line);
      this.waiters.changed();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closedFlag = true;
      this.waiters.changed();
    });
  }

  /** `localAddress` picks the source address (another 127.0.0.x stands for another host). */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawStratumClient> {
    return new Promise((resolve, reject) => {
      const socket = dial({ host, port, ...(localAddress === undefined ? {} : { localAddress }) });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawStratumClient(socket));
      });
    });
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  get lastJob(): Job {
    const job = this.jobs[this.jobs.length - 1];
    if (job === undefined) throw new Error('no mining.notify received yet');
    return job;
  }

  /** Writes one line as given (a newline is added). */
  sendLine(line: string): void {
    const method = /"method"\s*:\s*"([^"]*)"/.exec(line)?.[1];
    this.log.push({ direction: 'out', at: performance.now(), line, method, reply: false });
    this.socket.write(`${line}\n`);
  }

  request(method: string, params: readonly JsonValue[]): Promise<StratumResponse> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { method, resolve });
      this.sendLine(serializeRequest(id, method, params).trimEnd());
    });
  }

  async configureVersionRolling(mask: number): Promise<number | undefined> {
    const reply = await this.request('mining.configure', [
      ['version-rolling'],
      { 'version-rolling.mask': u32ToHex(mask) },
    ]);
    const decoded = decodeConfigureResult(reply.result, reply.id);
    if (!decoded.ok) throw decoded.error;
    return decoded.value.versionRollingMask;
  }

  async subscribe(userAgent = 'hashrelay-test-raw/0.1'): Promise<void> {
    const reply = await this.request('mining.subscribe', [userAgent]);
    const decoded = decodeSubscribeResult(reply.result, reply.id);
    if (!decoded.ok) throw decoded.error;
    this.extranonce1 = decoded.value.extranonce1;
    this.extranonce2Size = decoded.value.extranonce2Size;
  }

  async authorize(worker: string, password = 'x'): Promise<boolean> {
    const reply = await this.request('mining.authorize', [worker, password]);
    return reply.error === null && reply.result === true;
  }

  submit(share: RawShare): Promise<StratumResponse> {
    const params: JsonValue[] = [
      share.worker,
      share.jobId,
      Buffer.from(share.extranonce2).toString('hex'),
      u32ToHex(share.ntime),
      u32ToHex(share.nonce),
    ];
    if (share.versionBits !== undefined) params.push(u32ToHex(share.versionBits));
    return this.request('mining.submit', params);
  }

  waitFor(
    predicate: (client: RawStratumClient) => boolean,
    timeoutMs = 5000,
    what = 'raw client condition',
  ): Promise<void> {
    return this.waiters.waitFor(predicate, timeoutMs, what);
  }

  close(): Promise<void> {
    if (this.closedFlag) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => {
        resolve();
      });
      this.socket.destroy();
    });
  }

  private receive(line: string): void {
    const parsed = parsePoolMessage(line);
    const message = parsed.ok ? parsed.message : undefined;
    const pending =
      message?.kind === 'response' && typeof message.id === 'number'
        ? this.pending.get(message.id)
        : undefined;
    this.log.push(inboundLine(line, message, pending?.method));
    if (message === undefined) return;
    this.messages.push(message);
    if (message.kind === 'mining.notify') this.jobs.push(message.job);
    if (message.kind === 'mining.set_difficulty') this.difficulties.push(message.difficulty);
    if (message.kind === 'response' && pending !== undefined) {
      this.pending.delete(message.id as number);
      pending.resolve(message);
    }
  }
}
