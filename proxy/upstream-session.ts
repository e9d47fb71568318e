import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { UpstreamUrl } from '../src/config/endpoints.js';
import { LineFramer } from '../src/stratum/line-framer.js';
import type { JsonRpcId, JsonValue, PoolRequest, StratumResponse } from '../src/stratum/messages.js';
import { parsePoolMessage } from '../src/stratum/parse.js';
import { decodeBooleanResult, decodeConfigureResult, decodeSubscribeResult } from '../src/stratum/results.js';
import { JsonRpcErrorCode } from '../src/stratum/errors.js';
import { serializeError, serializeRequest, serializeResult } from '../src/stratum/serialize.js';
import { classifySubmitReject, type SubmitRejectReason } from '../src/stratum/submit-rejects.js';
import type { Job } from '../src/work/job.js';
import type { Difficulty, U32 } from '../src/work/types.js';
import { toDifficulty } from '../src/work/types.js';

/** A job as one upstream session issued it, with what was in force when it arrived. */
export interface SessionJob {
  readonly job: Job;
  /** The upstream's difficulty for shares on this job (set_difficulty applies from the next job). */
  readonly difficulty: Difficulty;
  /** The session's clean-job generation when the job arrived; older generations are stale. */
  readonly generation: number;
  readonly receivedAt: number;
  readonly extranonce1: Uint8Array;
  readonly extranonce2Size: number;
}

export interface SubmitParams {
  readonly jobId: string;
  readonly extranonce2: Uint8Array;
  readonly ntime: U32;
  readonly nonce: U32;
  readonly versionBits: U32 | undefined;
}

export type SubmitAnswer =
  | { readonly kind: 'accepted'; readonly latencySeconds: number }
  | {
      readonly kind: 'rejected';
      readonly error: string;
      readonly reason: SubmitRejectReason;
      readonly latencySeconds: number;
    }
  | { readonly kind: 'no-answer'; readonly reason: string };

export interface ReconnectRequest {
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly waitSeconds: number;
}

export interface UpstreamSessionEvents {
  /** Subscribed, authorized, and holding a job: miners may be placed here. */
  ready(session: UpstreamSession): void;
  job(session: UpstreamSession, job: SessionJob): void;
  versionMask(session: UpstreamSession, mask: U32): void;
  /** The pool asked us to reconnect (client.reconnect). */
  reconnect(session: UpstreamSession, request: ReconnectRequest): void;
  closed(session: UpstreamSession, reason: string): void;
}

export interface UpstreamSessionOptions {
  readonly upstream: string;
  readonly id: string;
  readonly url: UpstreamUrl;
  /** Where to connect (differs from `url` after a client.reconnect with a target). */
  readonly host: string;
  readonly port: number;
  readonly connectTimeoutMs: number;
  readonly silenceMs: number;
  readonly submitTimeoutMs: number;
  readonly jobsKept: number;
  readonly userAgent: string;
  readonly logger: Logger;
  readonly events: UpstreamSessionEvents;
  /**
   * The authorize username and password, asked for at each handshake; default: the URL's.
   * Signed credentials carry a timestamp, so they are made fresh for every session.
   */
  readonly credentials?: () => UpstreamCredentials;
}

export interface UpstreamCredentials {
  readonly username: string;
  readonly password: string;
}

/** Pools send coinbases of a few hundred bytes; a notify line far past this is hostile. */
const MAX_POOL_LINE_BYTES = 1024 * 1024;
/** Ask for every bit: the pool answers with what it allows (STRATUM.md). */
const WIDEST_VERSION_MASK = 'ffffffff';

type HandshakeMethod =
  'mining.configure' | 'mining.subscribe' | 'mining.authorize' | 'mining.extranonce.subscribe';

type Pending =
  | { readonly method: HandshakeMethod }
  | {
      readonly method: 'mining.submit';
      readonly sentAt: number;
      readonly timer: NodeJS.Timeout;
      readonly resolve: (answer: SubmitAnswer) => void;
    };

/**
 * One Stratum V1 client connection to a pool (or a validator's proxy). Knows nothing of
 * miners: it subscribes, authorizes, asks for the widest version mask, tracks difficulty,
 * extranonce, version mask and jobs, forwards submits, and reports what happens.
 */
export class UpstreamSession {
  readonly upstream: string;
  readonly id: string;
  state: 'connecting' | 'handshaking' | 'ready' | 'closed' = 'connecting';
  extranonce1: Uint8Array = new Uint8Array(0);
  extranonce2Size = 0;
  versionMask: U32 = 0;
  /** Difficulty for the next job. */
  difficulty: Difficulty = toDifficulty(1);
  /** Bumped by every clean job: jobs of an older generation are stale. */
  generation = 0;
  readonly jobs = new Map<string, SessionJob>();
  currentJob: SessionJob | undefined;
  lastReceivedAt = Date.now();

  private readonly options: UpstreamSessionOptions;
  private readonly log: Logger;
  private readonly socket: net.Socket;
  private readonly framer = new LineFramer({ maxLineLength: MAX_POOL_LINE_BYTES });
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private subscribed = false;
  private authorized = false;
  private username: string;
  /** set_extranonce applies from the next job. */
  private pendingExtranonce: { extranonce1: Uint8Array; extranonce2Size: number } | undefined;
  private silenceTimer: NodeJS.Timeout | undefined;
  private corked = false;

  constructor(options: UpstreamSessionOptions) {
    this.options = options;
    this.username = options.url.username;
    this.upstream = options.upstream;
    this.id = options.id;
    this.log = options.logger.child({ upstream: options.upstream, session: options.id });
    const connectOptions = { host: options.host, port: options.port };
    this.socket = options.url.tls
      ? tls.connect({
          ...connectOptions,
          servername: net.isIP(options.host) === 0 ? options.host : undefined,
        })
      : net.connect(connectOptions);
    this.socket.setNoDelay(true);
    this.socket.setKeepAlive(true, 30_000);
    this.socket.setTimeout(options.connectTimeoutMs, () => {
      this.close(`no connection within ${options.connectTimeoutMs / 1000} s`);
    });
    this.socket.once(options.url.tls ? 'secureConnect' : 'connect', () => {
      this.onConnected();
    });
    this.socket.on('data', (chunk: Buffer) => {
      this.onData(chunk);
    });
    this.socket.on('error', (error) => {
      this.close(`socket error: ${error.message}`);
    });
    this.socket.on('close', () => {
      this.close('connection closed by the pool');
    });
  }

  /** The username this session authorized as: submits are sent under it. */
  get workerName(): string {
    return this.username;
  }

  /** Forwards a share; resolves with the pool's answer, or `no-answer` on timeout or close. */
  submit(worker: string, params: SubmitParams): Promise<SubmitAnswer> {
    if (this.state !== 'ready')
      return Promise.resolve({ kind: 'no-answer', reason: `session is ${this.state}` });
    const id = this.nextId++;
    const wire = submitWire(worker, params);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ kind: 'no-answer', reason: `no answer within ${this.options.submitTimeoutMs / 1000} s` });
      }, this.options.submitTimeoutMs);
      this.pending.set(id, { method: 'mining.submit', sentAt: performance.now(), timer, resolve });
      this.write(serializeRequest(id, 'mining.submit', wire));
    });
  }

  close(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.silenceTimer);
    this.socket.destroy();
    for (const pending of this.pending.values()) {
      if (pending.method === 'mining.submit') {
        clearTimeout(pending.timer);
        pending.resolve({ kind: 'no-answer', reason: `session closed: ${reason}` });
      }
    }
    this.pending.clear();
    this.log.info({ reason }, 'upstream session closed');
    this.options.events.closed(this, reason);
  }

  private onConnected(): void {
    this.state = 'handshaking';
    this.socket.setTimeout(0);
    this.log.info({ host: this.options.host, port: this.options.port }, 'upstream connected');
    this.armSilenceTimer();
    this.request('mining.configure', [
      ['version-rolling'],
      { 'version-rolling.mask': WIDEST_VERSION_MASK, 'version-rolling.min-bit-count': 2 },
    ]);
    this.request('mining.subscribe', [this.options.userAgent]);
    const credentials = this.options.credentials?.() ?? this.options.url;
    this.username = credentials.username;
    this.request('mining.authorize', [credentials.username, credentials.password]);
    // Lets the pool move our extranonce without a reconnect; pools that do not know it answer
    // with an error, which changes nothing.
    this.request('mining.extranonce.subscribe', []);
  }

  private request(method: HandshakeMethod, params: JsonValue[]): void {
    const id = this.nextId++;
    this.pending.set(id, { method });
    this.write(serializeRequest(id, method, params));
  }

  /** Writes within one event-loop turn go out as one syscall (corked until the check phase). */
  private write(line: string): void {
    if (this.state === 'closed') return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(this.uncork);
    }
    this.socket.write(line);
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  private armSilenceTimer(): void {
    clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => {
      this.close(`silent for ${this.options.silenceMs / 1000} s`);
    }, this.options.silenceMs);
    this.silenceTimer.unref();
  }

  private onData(chunk: Buffer): void {
    this.lastReceivedAt = Date.now();
    this.armSilenceTimer();
    const { lines, overflow } = this.framer.push(chunk);
    if (overflow) {
      this.close(`pool sent a line over ${MAX_POOL_LINE_BYTES} bytes`);
      return;
    }
    for (const line of lines) {
      if (this.state === 'closed') return;
      const parsed = parsePoolMessage(line);
      if (!parsed.ok) {
        this.log.warn(
          { error: parsed.error.message, line: line.slice(0, 200) },
          'unparseable message from pool',
        );
        continue;
      }
      const message = parsed.message;
      if (message.kind === 'response') this.onResponse(message);
      else this.onRequest(message);
    }
  }

  private onResponse(response: StratumResponse): void {
    if (typeof response.id !== 'number') return;
    const pending = this.pending.get(response.id);
    if (pending === undefined) return;
    this.pending.delete(response.id);
    switch (pending.method) {
      case 'mining.configure': {
        const decoded = decodeConfigureResult(response.result, response.id);
        const mask =
          decoded.ok && decoded.value.accepted.get('version-rolling') === true
            ? decoded.value.versionRollingMask
            : undefined;
        this.setVersionMask(mask ?? 0);
        break;
      }
      case 'mining.subscribe': {
        const decoded = decodeSubscribeResult(response.result, response.id);
        if (response.error !== null || !decoded.ok) {
          this.close(
            `subscribe refused: ${response.error?.message ?? (decoded.ok ? '' : decoded.error.message)}`,
          );
          return;
        }
        this.extranonce1 = decoded.value.extranonce1;
        this.extranonce2Size = decoded.value.extranonce2Size;
        this.subscribed = true;
        this.checkReady();
        break;
      }
      case 'mining.authorize': {
        const decoded = decodeBooleanResult(response.result, response.id);
        if (response.error !== null || !decoded.ok || !decoded.value) {
          this.close(`authorize refused for ${this.username}: ${response.error?.message ?? 'result false'}`);
          return;
        }
        this.authorized = true;
        this.checkReady();
        break;
      }
      case 'mining.extranonce.subscribe':
        break;
      case 'mining.submit': {
        clearTimeout(pending.timer);
        const latencySeconds = (performance.now() - pending.sentAt) / 1000;
        const decoded = decodeBooleanResult(response.result, response.id);
        if (response.error === null && decoded.ok && decoded.value) {
          pending.resolve({ kind: 'accepted', latencySeconds });
        } else {
          const error =
            response.error === null ? 'rejected' : `${response.error.code} ${response.error.message}`;
          pending.resolve({
            kind: 'rejected',
            error,
            reason: classifySubmitReject(response.error),
            latencySeconds,
          });
        }
        break;
      }
    }
  }

  private onRequest(message: PoolRequest): void {
    switch (message.kind) {
      case 'mining.set_difficulty':
        this.difficulty = message.difficulty;
        break;
      case 'mining.notify':
        this.onNotify(message.job);
        break;
      case 'mining.set_version_mask':
        this.setVersionMask(message.mask);
        break;
      case 'mining.set_extranonce':
        this.pendingExtranonce = {
          extranonce1: message.extranonce1,
          extranonce2Size: message.extranonce2Size,
        };
        this.log.info(
          { extranonce2Size: message.extranonce2Size },
          'pool changed extranonce for the next job',
        );
        break;
      case 'client.reconnect':
        this.options.events.reconnect(this, {
          host: message.target?.host,
          port: message.target?.port,
          waitSeconds: message.target?.waitSeconds ?? 0,
        });
        break;
      case 'client.show_message':
        this.log.info({ text: message.text.slice(0, 500) }, 'message from pool');
        break;
      case 'client.get_version':
        this.answer(message.id, this.options.userAgent);
        break;
      case 'mining.ping':
        this.answer(message.id, 'pong');
        break;
      case 'unknown':
        this.log.debug({ method: message.method }, 'unknown method from pool');
        if (message.id !== null) {
          this.write(
            serializeError(message.id, JsonRpcErrorCode.methodNotFound, `unknown method ${message.method}`),
          );
        }
        break;
    }
  }

  private answer(id: JsonRpcId, result: JsonValue): void {
    if (id !== null) this.write(serializeResult(id, result));
  }

  private setVersionMask(mask: U32): void {
    if (mask === this.versionMask) return;
    this.versionMask = mask;
    this.options.events.versionMask(this, mask);
  }

  private onNotify(job: Job): void {
    if (this.pendingExtranonce !== undefined) {
      this.extranonce1 = this.pendingExtranonce.extranonce1;
      this.extranonce2Size = this.pendingExtranonce.extranonce2Size;
      this.pendingExtranonce = undefined;
    }
    // Earlier jobs keep the extranonce they were issued with (recorded per job), so only the
    // pool's clean flag makes them stale.
    if (job.cleanJobs) this.generation += 1;
    const sessionJob: SessionJob = {
      job,
      difficulty: this.difficulty,
      generation: this.generation,
      receivedAt: Date.now(),
      extranonce1: this.extranonce1,
      extranonce2Size: this.extranonce2Size,
    };
    this.jobs.delete(job.jobId);
    this.jobs.set(job.jobId, sessionJob);
    while (this.jobs.size > this.options.jobsKept) {
      const oldest = this.jobs.keys().next().value;
      if (oldest === undefined) break;
      this.jobs.delete(oldest);
    }
    this.currentJob = sessionJob;
    if (this.state === 'ready') this.options.events.job(this, sessionJob);
    else this.checkReady();
  }

  private checkReady(): void {
    if (this.state !== 'handshaking' || !this.subscribed || !this.authorized || this.currentJob === undefined)
      return;
    this.state = 'ready';
    this.log.info(
      {
        extranonce2Size: this.extranonce2Size,
        versionMask: hex8(this.versionMask),
        difficulty: this.difficulty,
      },
      'upstream session ready',
    );
    // The first job arrived before the session was ready: hand it over first, then announce.
    this.options.events.job(this, this.currentJob);
    this.options.events.ready(this);
  }
}

/** mining.submit's params as they go on the wire. */
export function submitWire(worker: string, params: SubmitParams): string[] {
  const wire = [
    worker,
    params.jobId,
    Buffer.from(params.extranonce2).toString('hex'),
    hex8(params.ntime),
    hex8(params.nonce),
  ];
  if (params.versionBits !== undefined) wire.push(hex8(params.versionBits));
  return wire;
}

function hex8(value: number): string {
  return value.toString(16).padStart(8, '0');
}
