import type net from 'node:net';
import type { Logger } from 'pino';
import { JsonRpcErrorCode, SubmitErrorCode } from '../src/stratum/errors.js';
import { LineFramer } from '../src/stratum/line-framer.js';
import type {
  ConfigureRequest,
  JsonRpcId,
  JsonValue,
  MinerRequest,
  SubmitRequest,
} from '../src/stratum/messages.js';
import { parseMinerMessage } from '../src/stratum/parse.js';
import {
  serializeError,
  serializeParseError,
  serializeRequest,
  serializeResult,
} from '../src/stratum/serialize.js';
import type { LocalVerdict } from '../src/ledger/ledger.js';
import type { PreparedJob } from '../src/work/share-check.js';
import type { Difficulty, U32 } from '../src/work/types.js';
import { Vardiff, type RetargetReason, type VardiffOptions } from '../src/work/vardiff.js';
import { rollableMask } from '../src/work/version-rolling.js';
import { AuthorizedWorkers } from './authorized-workers.js';
import { isStale, type SlotClaim } from './extranonce-slots.js';
import type { ProxyJob } from './proxy-job.js';
import type { SessionJob, UpstreamSession } from './upstream-session.js';

export type SubmitReply =
  { readonly ok: true } | { readonly ok: false; readonly code: number; readonly message: string };

/** A job as sent to this miner: the difficulty in force then is what its shares are judged at. */
export interface MinerJob {
  readonly job: ProxyJob;
  readonly difficulty: Difficulty;
  /** The version mask in force when the job was sent (0: no rolling); see rollableMask. */
  readonly versionMask: U32;
  /** The job bound to this miner's slot, prepared on the first share. */
  prepared: PreparedJob | undefined;
}

export interface MinerLimits {
  readonly maxLineBytes: number;
  readonly handshakeSeconds: number;
  readonly idleSeconds: number;
  readonly messagesPerSecond: number;
  readonly messageBurst: number;
  readonly maxInvalidMessages: number;
  readonly maxFailedAuthorizes: number;
  readonly maxPendingWriteBytes: number;
}

/** What a miner connection needs from the proxy around it. */
/**
 * An admission decision. `identity` is who the work is credited to (default: the username's
 * account part); a validator credits unproven usernames to a marked identity, never the hotkey
 * they claim.
 */
export type AdmissionVerdict =
  { readonly ok: true; readonly identity?: string } | { readonly ok: false; readonly message: string };

/** The identity a username credits: the part before the first '.' (account.worker). */
export function identityOf(username: string): string {
  const dot = username.indexOf('.');
  return dot < 0 ? username : username.slice(0, dot);
}

export interface MinerHost {
  readonly log: Logger;
  readonly limits: MinerLimits;
  readonly vardiff: VardiffOptions & { readonly honourMinerFloor: boolean };
  readonly minerExtranonce2Size: number;
  readonly jobsKept: number;
  /** The version mask miners may roll now (the preferred upstream's). */
  versionMaskOffer(): U32;
  allocateSlot(): Uint8Array | undefined;
  /** Decides whether an authorize is admitted (the validator role checks signatures). */
  authorize(
    username: string,
    password: string,
    connectionId: number,
    remoteAddress: string,
  ): Promise<AdmissionVerdict>;
  /** The miner is subscribed and authorized: give it work. */
  place(miner: MinerConnection): void;
  /** The miner's difficulty changed (`reason`); counted and logged by the host. */
  retargeted(miner: MinerConnection, difficulty: Difficulty, reason: RetargetReason): void;
  /** Sends the placed miner its session's current job afresh, so a new difficulty applies now. */
  reissue(miner: MinerConnection): void;
  submit(miner: MinerConnection, request: SubmitRequest): Promise<SubmitReply>;
  /** The miner's unsent output changed (a write, or a drain). */
  queued(miner: MinerConnection): void;
  /** Schedules a reply write; the host spreads bursts over event-loop turns. */
  deferReply(write: () => void): void;
  protocolError(kind: string): void;
  /** Why miners are turned away now (no upstream past the grace), or undefined. */
  turnAway(stage: 'subscribe' | 'authorize'): string | undefined;
  closed(miner: MinerConnection, reason: string): void;
}

const SUBSCRIPTION_ID = 'hashrelay';
/** Each miner socket's connection, for the listeners all connections share. */
const owners = new WeakMap<net.Socket, MinerConnection>();
/** Usernames are as long as a line allows; a log field need not be. */
const MAX_LOGGED_USERNAME = 128;
/** Authorizes logged at info per connection. */
const LOGGED_WORKERS = 8;

/**
 * One miner's Stratum connection: framing, the handshake, per-connection policy (rate, idle,
 * slow reader), and the jobs and difficulty sent to it. Shares are judged by the host.
 */
export class MinerConnection {
  readonly id: number;
  readonly remote: string;
  /** The source IP alone (admission budgets by it). */
  readonly remoteAddress: string;
  /** Made at its first use: a pino child is ~440 B, and an idle miner's lines go through `say`. */
  private childLog: Logger | undefined;
  /** Fixed for the connection's life (the extranonce fold). */
  slot: Uint8Array | undefined;
  /** Usernames authorized on this connection → the identity their shares are credited to. */
  readonly authorized = new AuthorizedWorkers();
  identity: string | undefined;
  /** The session this miner is placed on, if any; owned by the router. */
  placement: unknown;
  readonly jobs = new Map<string, MinerJob>();
  /** How many variants of each upstream job were sent here: the next one is fresh space. */
  private readonly variantsSent = new WeakMap<SessionJob, number>();
  /** The last job sent: the one being mined. */
  lastJob: ProxyJob | undefined;
  vardiff: Vardiff;
  versionRolling = false;
  /** The mask the miner asked for in mining.configure. */
  private requestedMask: U32 = 0;
  private maskSent: U32 | undefined;
  private difficultySent: number | undefined;
  private extranonceSubscribed = false;
  private closedReason: string | undefined;
  private readonly socket: net.Socket;
  private readonly host: MinerHost;
  private readonly framer: LineFramer;
  private tokens: number;
  private tokensAt = Date.now();
  private invalidMessages = 0;
  private failedAuthorizes = 0;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private placed = false;
  /** A difficulty the miner asked for was applied by a fresh job already. */
  private askedReissue = false;
  /**
   * Jobs with shares accepted or still being judged, and how many: they keep the slot claimed.
   * This and `rejectedShares` are made at the first share: an idle miner needs neither (~200 B each).
   */
  private shareClaims: Map<ProxyJob, number> | undefined;
  readonly connectedAt = Date.now();
  /** Over the connection's life, for its disconnect line. */
  private acceptedShares = 0;
  private rejectedShares: Map<LocalVerdict, number> | undefined;

  /** `vardiff`: the listener's settings (its own starting difficulty and floor), default the host's. */
  constructor(id: number, socket: net.Socket, host: MinerHost, vardiff: VardiffOptions = host.vardiff) {
    this.id = id;
    this.socket = socket;
    this.host = host;
    this.remoteAddress = socket.remoteAddress ?? '?';
    this.remote = `${this.remoteAddress}:${socket.remotePort ?? 0}`;
    this.framer = new LineFramer({ maxLineLength: host.limits.maxLineBytes });
    this.tokens = host.limits.messageBurst;
    this.vardiff = new Vardiff(vardiff, Date.now());
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    owners.set(socket, this);
    // Unbound on purpose: the emitter calls them with `this` = the socket.
    /* eslint-disable @typescript-eslint/unbound-method */
    socket.on('data', MinerConnection.onSocketData);
    socket.on('drain', MinerConnection.onSocketDrain);
    socket.on('error', MinerConnection.onSocketError);
    socket.on('close', MinerConnection.onSocketClose);
    /* eslint-enable @typescript-eslint/unbound-method */
    this.handshakeTimer = setTimeout(() => {
      this.close(`no subscribe and authorize within ${host.limits.handshakeSeconds} s`);
    }, host.limits.handshakeSeconds * 1000);
    this.armIdleTimer();
    this.say('info', {}, 'miner connected');
  }

  // The socket's listeners, shared by every connection (`this` is the socket): four closures
  // per miner less.
  private static readonly onSocketData = function (this: net.Socket, chunk: Buffer): void {
    owners.get(this)?.onData(chunk);
  };

  private static readonly onSocketDrain = function (this: net.Socket): void {
    const miner = owners.get(this);
    if (miner?.isOpen === true) miner.host.queued(miner);
  };

  private static readonly onSocketError = function (this: net.Socket, error: Error): void {
    owners.get(this)?.close(`socket error: ${error.message}`);
  };

  private static readonly onSocketClose = function (this: net.Socket): void {
    owners.get(this)?.close('closed by miner');
  };

  /** This connection's logger (its lines carry `connection` and `remote`). */
  get log(): Logger {
    return (this.childLog ??= this.host.log.child({ connection: this.id, remote: this.remote }));
  }

  /**
   * A line every miner writes (connected, authorized, disconnected): the same fields as `log`'s,
   * without making a child logger for a miner that may never write another.
   */
  private say(level: 'info' | 'debug', fields: Record<string, unknown>, message: string): void {
    if (this.childLog !== undefined) this.childLog[level](fields, message);
    else if (this.host.log.isLevelEnabled(level))
      this.host.log[level]({ connection: this.id, remote: this.remote, ...fields }, message);
  }

  get isOpen(): boolean {
    return this.closedReason === undefined;
  }

  /** Bytes written to this miner that the socket has not sent yet. */
  get pendingWriteBytes(): number {
    return this.socket.writableLength;
  }

  /** Sends a job (with set_difficulty / set_version_mask first when they changed). */
  sendJob(job: ProxyJob, clean: boolean, now = Date.now()): void {
    if (!this.isOpen) return;
    this.retarget(now);
    const difficulty = this.vardiff.current;
    let out = '';
    // The job's own version bits leave the mask, so BIP 310 and OR pools build the same header;
    // set_version_mask applies at once, so it goes just before the job it is for.
    const mask = this.versionRolling
      ? rollableMask(job.session.versionMask, this.requestedMask, job.minerJob.version)
      : 0;
    if (this.versionRolling && mask !== this.maskSent) {
      this.maskSent = mask;
      out += serializeRequest(null, 'mining.set_version_mask', [hex8(mask)]);
    }
    if (difficulty !== this.difficultySent) {
      this.difficultySent = difficulty;
      out += serializeRequest(null, 'mining.set_difficulty', [difficulty]);
    }
    if (out !== '') this.write(out);
    this.write(clean ? job.notifyClean : job.notify);
    this.jobs.set(job.id, { job, difficulty, versionMask: mask, prepared: undefined });
    this.lastJob = job;
    this.variantsSent.set(job.sessionJob, Math.max(this.nextVariant(job.sessionJob), job.variant + 1));
    // Keep enough jobs for late shares across a move, and no more.
    if (this.jobs.size > this.host.jobsKept * 2) {
      const oldest = this.jobs.keys().next().value;
      if (oldest !== undefined) this.jobs.delete(oldest);
    }
  }

  /** The variant of `sessionJob` whose coinbase space this miner has not been given. */
  nextVariant(sessionJob: SessionJob): number {
    return this.variantsSent.get(sessionJob) ?? 0;
  }

  /** Reconsiders the difficulty (at each job, and on the host's sweep); true if it changed. */
  retarget(now: number): boolean {
    const next = this.vardiff.retarget(now);
    if (next === undefined) return false;
    this.host.retargeted(this, next, this.vardiff.lastReason ?? 'rate');
    return true;
  }

  /**
   * The job generations on which this miner has shares accepted or still being judged: while
   * one is live, its slot must not go to a newcomer (who would find the same shares).
   */
  get slotClaims(): SlotClaim<UpstreamSession>[] {
    return [...(this.shareClaims?.keys() ?? [])].map((job) => ({
      source: job.session,
      generation: job.sessionJob.generation,
    }));
  }

  /** The version mask a share on this job is judged under: as sent, less what the upstream has since withdrawn. */
  versionMaskFor(entry: MinerJob): U32 {
    return (entry.versionMask & entry.job.session.versionMask) >>> 0;
  }

  /** Counts a credited share; true if it raised the difficulty (shares far too fast). */
  recordCredit(difficulty: number): boolean {
    this.acceptedShares += 1;
    const now = Date.now();
    this.vardiff.recordShare(difficulty, now);
    const raised = this.vardiff.raiseForBurst(now);
    if (raised === undefined) return false;
    this.host.retargeted(this, raised, 'rate');
    return true;
  }

  /**
   * A difficulty the miner asked for (suggest_difficulty, minimum-difficulty). Once work was sent
   * it applies at once by a fresh job, but only the first time: each fresh job costs a ledger
   * row, so later requests wait for the next job.
   */
  private askDifficulty(difficulty: number): void {
    const next = this.vardiff.setFloor(difficulty, Date.now());
    if (next === undefined) return;
    this.host.retargeted(this, next, 'miner');
    if (this.lastJob === undefined || this.askedReissue) return;
    this.askedReissue = true;
    this.host.reissue(this);
  }

  recordReject(verdict: LocalVerdict): void {
    this.rejectedShares ??= new Map();
    this.rejectedShares.set(verdict, (this.rejectedShares.get(verdict) ?? 0) + 1);
  }

  /** Closes the connection; with a `farewell`, the miner is shown it (client.show_message) first. */
  close(reason: string, farewell?: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.idleTimer);
    if (farewell === undefined) this.socket.destroy();
    else {
      // Ends once what was written (an error reply, the farewell) is sent; a peer that never
      // closes its side is cut off.
      this.socket.end(serializeRequest(null, 'client.show_message', [farewell]));
      this.socket.setTimeout(1000, () => this.socket.destroy());
    }
    this.say(
      'info',
      {
        reason,
        identity: this.identity,
        seconds: Math.round((Date.now() - this.connectedAt) / 1000),
        accepted: this.acceptedShares,
        rejected: Object.fromEntries(this.rejectedShares ?? []),
      },
      'miner disconnected',
    );
    this.host.closed(this, reason);
  }

  private write(data: string | Buffer): void {
    if (!this.isOpen) return;
    this.socket.write(data);
    // A miner that does not read its socket must not make the proxy buffer without bound.
    if (this.socket.writableLength > this.host.limits.maxPendingWriteBytes) {
      this.host.protocolError('slow-reader');
      this.close(`not reading: over ${this.host.limits.maxPendingWriteBytes} bytes queued`);
      return;
    }
    this.host.queued(this);
  }

  private claimSlot(job: ProxyJob, change: 1 | -1): void {
    this.shareClaims ??= new Map();
    const count = (this.shareClaims.get(job) ?? 0) + change;
    if (count > 0) this.shareClaims.set(job, count);
    else this.shareClaims.delete(job);
    if (change > 0 && this.shareClaims.size > this.host.jobsKept * 2) {
      // Claims on stale jobs no longer hold the slot.
      for (const claimed of this.shareClaims.keys())
        if (isStale(claimed.session, claimed.sessionJob.generation)) this.shareClaims.delete(claimed);
    }
  }

  private armIdleTimer(): void {
    // One timer for the connection's life, restarted per chunk (no new timer and closure each time).
    if (this.idleTimer !== undefined) {
      this.idleTimer.refresh();
      return;
    }
    this.idleTimer = setTimeout(() => {
      this.close(`idle for ${this.host.limits.idleSeconds} s`);
    }, this.host.limits.idleSeconds * 1000);
  }

  private onData(chunk: Buffer): void {
    if (!this.isOpen) return;
    this.armIdleTimer();
    const { lines, overflow } = this.framer.push(chunk);
    if (overflow) {
      this.host.protocolError('line-too-long');
      this.close(`sent a line over ${this.host.limits.maxLineBytes} bytes`);
      return;
    }
    for (const line of lines) {
      // A previous line may have closed the connection; TypeScript cannot see that through calls.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
      if (!this.isOpen) return;
      if (!this.takeToken()) {
        this.host.protocolError('flood');
        this.close(`flood: over ${this.host.limits.messagesPerSecond} messages/s sustained`);
        return;
      }
      const parsed = parseMinerMessage(line);
      if (!parsed.ok) {
        this.host.protocolError('invalid-message');
        this.write(serializeParseError(parsed.error));
        this.countInvalid();
        continue;
      }
      if (parsed.message.kind === 'response') continue; // answers to our requests need no action
      this.onRequest(parsed.message);
    }
  }

  private countInvalid(): void {
    this.invalidMessages += 1;
    if (this.invalidMessages > this.host.limits.maxInvalidMessages) {
      this.close(`over ${this.host.limits.maxInvalidMessages} invalid messages`);
    }
  }

  /** Each refused authorize may have cost a signature verification: a few close the connection. */
  private countFailedAuthorize(): void {
    this.failedAuthorizes += 1;
    const limit = this.host.limits.maxFailedAuthorizes;
    if (this.failedAuthorizes >= limit) {
      this.host.protocolError('failed-authorizes');
      this.close(`${limit} failed authorizes (limits.maxFailedAuthorizes)`);
    }
  }

  private takeToken(): boolean {
    const now = Date.now();
    const { messagesPerSecond, messageBurst } = this.host.limits;
    this.tokens = Math.min(messageBurst, this.tokens + ((now - this.tokensAt) / 1000) * messagesPerSecond);
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private reply(id: JsonRpcId, result: JsonValue): void {
    this.write(serializeResult(id, result));
  }

  private replyError(id: JsonRpcId, code: number, message: string): void {
    this.write(serializeError(id, code, message));
  }

  private onRequest(request: MinerRequest): void {
    switch (request.kind) {
      case 'mining.configure':
        this.onConfigure(request);
        break;
      case 'mining.subscribe':
        this.onSubscribe(request.id);
        break;
      case 'mining.authorize':
        void this.onAuthorize(request.id, request.username, request.password);
        break;
      case 'mining.extranonce.subscribe':
        this.extranonceSubscribed = true;
        this.reply(request.id, true);
        break;
      case 'mining.suggest_difficulty':
        if (this.host.vardiff.honourMinerFloor) this.askDifficulty(request.difficulty);
        this.reply(request.id, true);
        break;
      case 'mining.submit':
        this.onSubmit(request);
        break;
      case 'unknown':
        this.replyError(
          request.id,
          JsonRpcErrorCode.methodNotFound,
          `method ${request.method.slice(0, 64)} is not supported`,
        );
        break;
    }
  }

  private onConfigure(request: ConfigureRequest): void {
    const result: Record<string, JsonValue> = {};
    for (const extension of request.extensions) {
      switch (extension) {
        case 'version-rolling': {
          this.requestedMask = request.versionRollingMask ?? 0xffffffff;
          const mask = (this.requestedMask & this.host.versionMaskOffer()) >>> 0;
          this.versionRolling = mask !== 0;
          this.maskSent = mask;
          result['version-rolling'] = this.versionRolling;
          result['version-rolling.mask'] = hex8(mask);
          break;
        }
        case 'minimum-difficulty':
          if (request.minimumDifficulty !== undefined && this.host.vardiff.honourMinerFloor) {
            this.askDifficulty(request.minimumDifficulty);
            result['minimum-difficulty'] = true;
          } else {
            result['minimum-difficulty'] = false;
          }
          break;
        case 'subscribe-extranonce':
          this.extranonceSubscribed = true;
          result['subscribe-extranonce'] = true;
          break;
        case 'info':
          result.info = true;
          break;
        default:
          result[extension] = false;
      }
    }
    this.reply(request.id, result);
  }

  private onSubscribe(id: JsonRpcId): void {
    if (this.turnedAway(id, 'subscribe')) return;
    if (this.slot === undefined) {
      this.slot = this.host.allocateSlot();
      if (this.slot === undefined) {
        this.replyError(
          id,
          SubmitErrorCode.other,
          'proxy is full: no extranonce slot free; try another instance',
        );
        this.close('no extranonce slot free');
        return;
      }
    }
    this.reply(id, [
      [
        ['mining.set_difficulty', SUBSCRIPTION_ID],
        ['mining.notify', SUBSCRIPTION_ID],
      ],
      Buffer.from(this.slot).toString('hex'),
      this.host.minerExtranonce2Size,
    ]);
    this.maybePlace();
  }

  private async onAuthorize(id: JsonRpcId, username: string, password: string): Promise<void> {
    if (this.turnedAway(id, 'authorize')) return;
    const verdict = await this.host.authorize(username, password, this.id, this.remoteAddress);
    if (!this.isOpen) return;
    const worker = username.slice(0, MAX_LOGGED_USERNAME);
    if (!verdict.ok) {
      this.log.info({ worker, reason: verdict.message }, 'miner authorize refused');
      this.replyError(id, SubmitErrorCode.unauthorizedWorker, verdict.message);
      this.countFailedAuthorize();
      return;
    }
    const credited = verdict.identity ?? identityOf(username);
    this.authorized.set(username, credited);
    this.identity ??= username;
    // A rig authorizes a few workers; a connection cycling through names logs at debug after that.
    const level = this.authorized.size <= LOGGED_WORKERS ? 'info' : 'debug';
    this.say(level, { worker, credited: credited.slice(0, MAX_LOGGED_USERNAME) }, 'miner authorized');
    this.reply(id, true);
    this.maybePlace();
  }

  /** No upstream past the grace: the request is refused and the connection closed, so the firmware fails over. */
  private turnedAway(id: JsonRpcId, stage: 'subscribe' | 'authorize'): boolean {
    const refusal = this.host.turnAway(stage);
    if (refusal === undefined) return false;
    this.replyError(id, SubmitErrorCode.other, refusal);
    this.close(`no upstream: ${stage} refused`, refusal);
    return true;
  }

  private maybePlace(): void {
    if (this.placed || this.slot === undefined || this.identity === undefined) return;
    this.placed = true;
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined; // its timer and closure need not live as long as the miner
    this.host.place(this);
  }

  private onSubmit(request: SubmitRequest): void {
    if (this.slot === undefined) {
      this.replyError(
        request.id,
        SubmitErrorCode.notSubscribed,
        'not subscribed: send mining.subscribe first',
      );
      this.countInvalid();
      return;
    }
    if (!this.authorized.has(request.worker)) {
      this.replyError(
        request.id,
        SubmitErrorCode.unauthorizedWorker,
        `worker '${request.worker.slice(0, 64)}' is not authorized on this connection`,
      );
      this.host.protocolError('unauthorized-worker');
      this.countInvalid();
      return;
    }
    // Counted before judging, so a miner that leaves mid-judgement leaves its slot claimed.
    const job = this.jobs.get(request.jobId)?.job;
    if (job !== undefined) this.claimSlot(job, 1);
    void this.host.submit(this, request).then((reply) => {
      if (!reply.ok && job !== undefined) this.claimSlot(job, -1);
      this.host.deferReply(() => {
        if (reply.ok) this.reply(request.id, true);
        else this.replyError(request.id, reply.code, reply.message);
      });
    });
  }
}

function hex8(value: number): string {
  return value.toString(16).padStart(8, '0');
}
