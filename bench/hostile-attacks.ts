/**
 * The attacks of the hostile-miner benchmark, each a fleet of connections from the attacker's
 * address that reconnects whatever the proxy closes (a real attacker comes back):
 *
 * - authorize flood: connections each sending signed-looking authorizes (random hotkey,
 *   fresh timestamp, random 64-byte signature) at a rate under the per-connection limit;
 * - subscribe churn: loops of connect → mining.subscribe → (answer) → reset;
 * - junk submits: authorized connections submitting shares that are worthless (garbage
 *   nonces on the current job, and unknown job ids) as fast as the message limit allows;
 * - never-reading: authorized connections that never read their socket while asking for
 *   answers (each request carries a long id the answer must echo);
 * - re-sent jobs: the pool repeats its job as a new notify (same id and content) and
 *   authorized connections resubmit their already-credited shares under each new proxy job id.
 *
 * Attackers that must be admitted sign with one registered hotkey: anyone can register one,
 * and a fresh signature per connection passes the replay check.
 */
import { randomBytes } from 'node:crypto';
import type { KeyringPair } from '@polkadot/keyring/types';
import { encodeAddress } from '@polkadot/util-crypto';
import { signAuthorize } from '../src/chain/authorize-proof.js';
import { bytesToHex, u32ToHex, type JsonValue, type StratumResponse } from '../src/stratum/index.js';
import type { Job } from '../src/work/job.js';
import { checkShare, prepareJob } from '../src/work/share-check.js';
import { AttackClient, type Endpoint } from './attack-client.js';

export interface AttackReport {
  /** Connections the attack opened, and how many of them the proxy closed. */
  readonly opened: number;
  readonly closedByProxy: number;
  /** Attack-specific figures, printed as `name=value`. */
  readonly figures: Readonly<Record<string, number>>;
}

export interface Attack {
  readonly name: string;
  /** Opens the fleet; resolves at once (connections come up as the proxy lets them). */
  start(): void;
  stop(): Promise<AttackReport>;
}

export interface AttackContext {
  readonly endpoint: Endpoint;
  readonly validatorHotkey: string;
  /** A registered hotkey the attacker owns. */
  readonly attacker: KeyringPair;
}

/** A closed connection comes back after this long (fast enough to keep the pressure on). */
const RECONNECT_MS = 100;
const TICK_MS = 25;
const FIRST_SUBMIT_ID = 1000;

/** Credentials for one connection: a fresh sr25519 signature each time (they are randomised). */
export function signedCredentials(
  pair: KeyringPair,
  validatorHotkey: string,
  worker: string,
): { username: string; password: string } {
  return signAuthorize(pair, validatorHotkey, Math.floor(Date.now() / 1000), worker);
}

/**
 * `connections` slots, each holding one client; a client the proxy closes is replaced after
 * RECONNECT_MS; a timer calls `tick` with the messages due per connection since the start.
 */
abstract class Fleet implements Attack {
  abstract readonly name: string;
  protected readonly clients: (AttackClient | undefined)[];
  protected readonly context: AttackContext;
  /** Messages each slot has sent (or was excused while it had no connection able to send). */
  private readonly sentBy: number[];
  protected opened = 0;
  protected closedByProxy = 0;
  private running = false;
  private ticker: NodeJS.Timeout | undefined;
  private readonly reconnects = new Set<NodeJS.Timeout>();
  private startedAt = 0;
  private readonly perSecond: number;

  constructor(context: AttackContext, connections: number, perSecond: number) {
    this.context = context;
    this.clients = new Array<AttackClient | undefined>(connections).fill(undefined);
    this.sentBy = new Array<number>(connections).fill(0);
    this.perSecond = perSecond;
  }

  start(): void {
    this.running = true;
    this.startedAt = performance.now();
    for (let slot = 0; slot < this.clients.length; slot++) this.open(slot);
    if (this.perSecond > 0) {
      this.ticker = setInterval(() => {
        const due = Math.floor(((performance.now() - this.startedAt) / 1000) * this.perSecond);
        for (const [slot, client] of this.clients.entries()) {
          // A connection that is down, or not ready to send, owes nothing for that time.
          const owed = due - this.sentBy[slot]!;
          if (client?.open === true && owed > 0) this.send(client, slot, owed);
          this.sentBy[slot] = due;
        }
      }, TICK_MS);
    }
  }

  async stop(): Promise<AttackReport> {
    this.running = false;
    clearInterval(this.ticker);
    for (const timer of this.reconnects) clearTimeout(timer);
    for (const client of this.clients) client?.close();
    await new Promise((resolve) => setImmediate(resolve));
    return { opened: this.opened, closedByProxy: this.closedByProxy, figures: this.figures() };
  }

  /** A new client for `slot` (dialled, handshake written). */
  protected abstract connect(slot: number): AttackClient;
  /** Sends `count` messages on `client` (those owed since the last tick). */
  protected abstract send(client: AttackClient, slot: number, count: number): void;
  protected abstract figures(): Record<string, number>;

  private open(slot: number): void {
    const client = this.connect(slot);
    this.opened++;
    this.clients[slot] = client;
    client.onClose = () => {
      if (!client.closedByPeer || !this.running) return;
      this.closedByProxy++;
      const timer = setTimeout(() => {
        this.reconnects.delete(timer);
        if (this.running) this.open(slot);
      }, RECONNECT_MS);
      this.reconnects.add(timer);
    };
  }
}

/** Connections × `perSecond` authorizes with random hotkeys and forged signatures. */
export class AuthorizeFlood extends Fleet {
  readonly name = 'authorize flood';
  private sent = 0;
  private answers = 0;
  private admitted = 0;
  /** Made up front and used in turn: the attack's own CPU stays small beside the proxy's. */
  private readonly hotkeys = Array.from({ length: 4096 }, () => encodeAddress(randomBytes(32), 42));

  constructor(context: AttackContext, connections = 100, perSecond = 40) {
    super(context, connections, perSecond);
  }

  protected connect(): AttackClient {
    const client = new AttackClient(this.context.endpoint, { read: true });
    client.onResponse = (response) => {
      this.answers++;
      if (response.result === true) this.admitted++;
    };
    return client;
  }

  protected send(client: AttackClient, _slot: number, count: number): void {
    const now = Math.floor(Date.now() / 1000);
    let lines = '';
    for (let i = 0; i < count; i++) {
      const hotkey = this.hotkeys[this.sent % this.hotkeys.length]!;
      const password = `t=${now},sig=0x${randomBytes(64).toString('hex')}`;
      lines += `{"id":${this.sent++},"method":"mining.authorize","params":["${hotkey}","${password}"]}\n`;
    }
    client.send(lines);
  }

  protected figures(): Record<string, number> {
    return { authorizes: this.sent, answered: this.answers, admitted: this.admitted };
  }
}

/** `loops` concurrent connect → subscribe → answer → reset cycles. */
export class SubscribeChurn implements Attack {
  readonly name = 'subscribe churn';
  private running = false;
  private opened = 0;
  private closedByProxy = 0;
  private cycles = 0;
  private refused = 0;
  private readonly live = new Set<AttackClient>();
  private readonly endpoint: Endpoint;
  private readonly loops: number;

  constructor(context: AttackContext, loops = 50) {
    this.endpoint = context.endpoint;
    this.loops = loops;
  }

  start(): void {
    this.running = true;
    for (let i = 0; i < this.loops; i++) this.cycle();
  }

  stop(): Promise<AttackReport> {
    this.running = false;
    for (const client of this.live) client.close();
    return Promise.resolve({
      opened: this.opened,
      closedByProxy: this.closedByProxy,
      figures: { cycles: this.cycles, 'subscribe refused': this.refused },
    });
  }

  private cycle(): void {
    if (!this.running) return;
    const client = new AttackClient(this.endpoint, { read: true });
    this.opened++;
    this.live.add(client);
    client.onResponse = (response) => {
      if (response.error === null) this.cycles++;
      else this.refused++;
      client.close();
    };
    client.onClose = () => {
      this.live.delete(client);
      if (client.closedByPeer) this.closedByProxy++;
      // A refused or failed dial comes back after a pause rather than spinning.
      const next = (): void => {
        this.cycle();
      };
      if (client.closedByPeer) setTimeout(next, RECONNECT_MS);
      else setImmediate(next);
    };
    client.request(1, 'mining.subscribe', ['hashrelay-bench-churn/0.1']);
  }
}

/** Authorized connections submitting worthless shares at `perSecond` each. */
export class JunkSubmits extends Fleet {
  readonly name = 'junk submits';
  private sent = 0;
  private answers = 0;
  private accepted = 0;
  private nextId = FIRST_SUBMIT_ID;

  constructor(context: AttackContext, connections = 100, perSecond = 45) {
    super(context, connections, perSecond);
  }

  protected connect(slot: number): AttackClient {
    const client = new AttackClient(this.context.endpoint, { read: true });
    const { username, password } = signedCredentials(
      this.context.attacker,
      this.context.validatorHotkey,
      `junk${slot}`,
    );
    client.handshake(username, password);
    client.onResponse = (response) => {
      if (typeof response.id !== 'number' || response.id < FIRST_SUBMIT_ID) return;
      this.answers++;
      if (response.result === true) this.accepted++;
    };
    return client;
  }

  protected send(client: AttackClient, slot: number, count: number): void {
    const job = client.job;
    if (job === undefined) return;
    const worker = `${this.context.attacker.address}.junk${slot}`;
    let lines = '';
    for (let i = 0; i < count; i++) {
      // Half on the current job with a garbage nonce (hashed, then refused), half unknown jobs.
      const jobId = this.sent % 2 === 0 ? job.jobId : `ff${randomBytes(3).toString('hex')}`;
      const params: JsonValue[] = [
        worker,
        jobId,
        randomBytes(client.extranonce2Size).toString('hex'),
        u32ToHex(job.ntime),
        randomBytes(4).toString('hex'),
      ];
      lines += `${JSON.stringify({ id: this.nextId++, method: 'mining.submit', params })}\n`;
      this.sent++;
    }
    client.send(lines);
  }

  protected figures(): Record<string, number> {
    return { submits: this.sent, answered: this.answers, accepted: this.accepted };
  }
}

/** Authorized connections that never read, each asking `perSecond` answers of ~`answerBytes`. */
export class NeverReading extends Fleet {
  readonly name = 'never-reading';
  private readonly provocation: Buffer;
  private sent = 0;

  constructor(context: AttackContext, connections = 1000, perSecond = 1, answerBytes = 12_000) {
    super(context, connections, perSecond);
    // The answer echoes the id: each request this size makes an answer this size.
    this.provocation = Buffer.from(
      `${JSON.stringify({ id: 'x'.repeat(answerBytes), method: 'mining.extranonce.subscribe', params: [] })}\n`,
    );
  }

  protected connect(slot: number): AttackClient {
    const client = new AttackClient(this.context.endpoint, { read: false });
    const { username, password } = signedCredentials(
      this.context.attacker,
      this.context.validatorHotkey,
      `mute${slot}`,
    );
    client.handshake(username, password);
    return client;
  }

  protected send(client: AttackClient, _slot: number, count: number): void {
    for (let i = 0; i < count; i++) client.send(this.provocation);
    this.sent += count;
  }

  protected figures(): Record<string, number> {
    return { requests: this.sent, 'MB asked': Math.round((this.sent * this.provocation.length) / 1e6) };
  }
}

interface MinedShare {
  readonly extranonce2: string;
  readonly ntime: string;
  readonly nonce: string;
}

/** The attacker's side of re-sent jobs: mine a few shares, then replay them on every repeat. */
export class ResentJobReplay extends Fleet {
  readonly name = 're-sent jobs';
  private readonly sharesPerConnection: number;
  private readonly resend: () => void;
  private readonly resendMs: number;
  private resendTimer: NodeJS.Timeout | undefined;
  private nextId = FIRST_SUBMIT_ID;
  /** Submit id → whether it was a replay. */
  private readonly pending = new Map<number, boolean>();
  private originals = 0;
  private originalsAccepted = 0;
  private replays = 0;
  private replaysAccepted = 0;
  private resends = 0;

  /** `resend` makes the pool repeat its job, every `resendMs`. */
  constructor(
    context: AttackContext,
    resend: () => void,
    { connections = 10, sharesPerConnection = 10, resendMs = 2000 } = {},
  ) {
    super(context, connections, 0);
    this.resend = resend;
    this.resendMs = resendMs;
    this.sharesPerConnection = sharesPerConnection;
  }

  override start(): void {
    super.start();
    this.resendTimer = setInterval(() => {
      this.resends++;
      this.resend();
    }, this.resendMs);
  }

  override stop(): Promise<AttackReport> {
    clearInterval(this.resendTimer);
    return super.stop();
  }

  protected connect(slot: number): AttackClient {
    const client = new AttackClient(this.context.endpoint, { read: true });
    const worker = `${this.context.attacker.address}.replay${slot}`;
    const { password } = signedCredentials(
      this.context.attacker,
      this.context.validatorHotkey,
      `replay${slot}`,
    );
    client.handshake(worker, password);
    let mined: MinedShare[] | undefined;
    let content = '';
    const submit = (jobId: string, share: MinedShare, replay: boolean): void => {
      const id = this.nextId++;
      this.pending.set(id, replay);
      client.request(id, 'mining.submit', [worker, jobId, share.extranonce2, share.ntime, share.nonce]);
    };
    client.onJob = (job) => {
      if (mined === undefined) {
        mined = this.mine(client, job);
        content = jobContent(job);
        for (const share of mined) submit(job.jobId, share, false);
        this.originals += mined.length;
      } else if (jobContent(job) === content) {
        for (const share of mined) submit(job.jobId, share, true);
        this.replays += mined.length;
      }
    };
    client.onResponse = (response: StratumResponse) => {
      if (typeof response.id !== 'number') return;
      const replay = this.pending.get(response.id);
      if (replay === undefined) return;
      this.pending.delete(response.id);
      if (response.result !== true) return;
      if (replay) this.replaysAccepted++;
      else this.originalsAccepted++;
    };
    return client;
  }

  protected send(): void {
    // Submits follow the pool's repeats, not a clock.
  }

  protected figures(): Record<string, number> {
    return {
      resends: this.resends,
      'shares credited': this.originalsAccepted,
      replays: this.replays,
      'replays credited': this.replaysAccepted,
    };
  }

  /** Valid shares at the connection's difficulty on `job` (a distinct extranonce2 each). */
  private mine(client: AttackClient, job: Job): MinedShare[] {
    const prepared = prepareJob(job, client.extranonce1!);
    const shares: MinedShare[] = [];
    for (let n = 0; shares.length < this.sharesPerConnection && n < 1 << 24; n++) {
      const extranonce2 = new Uint8Array(client.extranonce2Size);
      new DataView(extranonce2.buffer).setUint32(extranonce2.length - 4, shares.length);
      const verdict = checkShare({
        job: prepared,
        extranonce2Size: client.extranonce2Size,
        submission: { extranonce2, ntime: job.ntime, nonce: n >>> 0, versionBits: undefined },
        versionMask: 0,
        assignedDifficulty: client.difficulty,
      });
      if (verdict.valid)
        shares.push({ extranonce2: bytesToHex(extranonce2), ntime: u32ToHex(job.ntime), nonce: u32ToHex(n) });
    }
    return shares;
  }
}

/** A job's content without its id: what a repeat has in common with the original. */
function jobContent(job: Job): string {
  return [job.prevhash, job.coinb1, job.coinb2, ...job.merkleBranch]
    .map((bytes) => Buffer.from(bytes).toString('hex'))
    .concat([String(job.version), String(job.nbits), String(job.ntime)])
    .join(':');
}
