/**
 * Simulated ASICs on real sockets, for the split-accuracy benchmark. Each miner has a hashrate
 * (hashes per simulated second) and behaves as the hardware does: it works on the latest job it
 * was sent (a clean mining.notify switches it at once, on the same connection), takes
 * set_difficulty from the next job on, and finds shares as a Poisson process of rate
 * hashrate / (difficulty · 2^32). Each share is really ground with sha256d at the assigned
 * difficulty (tiny, so a few dozen hashes) before it is submitted. Simulated time runs
 * `timeScale` times faster than the wall clock.
 *
 * Like cpuminer and cgminer it starts its search again (extranonce2 from 0) whenever a notify
 * brings a new job id: if that job's coinbase space is one it already searched (the same
 * upstream job re-sent), it re-finds the shares it found there, in order, and submits them
 * again as the real miner would (duplicates, counted per miner). Position in a space is
 * hashrate × time since the restart; a share due within the covered part is such a copy.
 *
 * What it keeps: every share by nonce (unique across the farm, the key to find it at a pool)
 * with the difficulty it was mined at; per miner, the pool each job came from (told by the
 * job's prevhash, which the pools announce), so a switch is a job whose pool differs from the
 * previous job's; and the job-id session prefix (`<session>.<serial>`) as a second count.
 */
import { connect, type Socket } from 'node:net';
import {
  bytesToHex,
  decodeSubscribeResult,
  LineFramer,
  parsePoolMessage,
  serializeRequest,
  u32ToHex,
} from '../src/stratum/index.js';
import type { Job } from '../src/work/job.js';
import { checkShare, prepareJob, type PreparedJob } from '../src/work/share-check.js';
import { toDifficulty, type Difficulty } from '../src/work/types.js';
import { exponential } from './split-cases.js';
import { ShareStreamBuilder, type ShareStream } from './split-windows.js';
import { waitUntil } from './wait.js';

export interface AsicFarmOptions {
  readonly host: string;
  readonly port: number;
  /** Hashes per simulated second, one per miner. */
  readonly hashrates: readonly number[];
  /** Simulated seconds per wall second. */
  readonly timeScale: number;
  /** performance.now() at simulated time 0. */
  readonly epoch: number;
  /** The pool (validator index) a job came from, by its prevhash hex; undefined if unknown. */
  readonly poolOf: (prevhashHex: string) => number | undefined;
  readonly random: () => number;
}

/** A share as the miner found it. */
export interface FarmShare {
  readonly miner: number;
  readonly difficulty: number;
  /** The pool whose job it was ground on. */
  readonly pool: number;
}

const SUBSCRIBE_ID = 1;
const AUTHORIZE_ID = 2;
const FIRST_SUBMIT_ID = 100;
const UNKNOWN_POOL = -1;
const DUPLICATE_SHARE = 22;

/** A coinbase space as a miner searched it: how far (hashes), and the shares found, in order. */
interface SearchedSpace {
  covered: number;
  readonly shares: { extranonce2: Uint8Array; nonce: number; shareDifficulty: number }[];
}

/** What makes the header space: everything in the job but its id and clean flag. */
function spaceKey(job: Job): string {
  return [job.prevhash, job.coinb1, job.coinb2, ...job.merkleBranch]
    .map(bytesToHex)
    .concat([String(job.version), String(job.nbits), String(job.ntime)])
    .join('/');
}
/** A CPU grinds this many in well under a second; a difficulty that needs more is a misconfiguration. */
const MAX_HASHES_PER_SHARE = 2 ** 20;

class SimulatedAsic {
  readonly framer = new LineFramer({ maxLineLength: 1024 * 1024 });
  extranonce1: Uint8Array | undefined;
  extranonce2Size = 0;
  extranonce2Counter = 0;
  nextDifficulty: Difficulty = toDifficulty(1);
  difficulty: Difficulty | undefined;
  job: Job | undefined;
  prepared: PreparedJob | undefined;
  pool = UNKNOWN_POOL;
  session = '';
  /** performance.now() of the next share (the Poisson clock). */
  due = 0;
  timer: NodeJS.Timeout | undefined;
  notifies = 0;
  poolSwitches = 0;
  sessionSwitches = 0;
  /** Switches that came as a notify without clean_jobs (a move must be clean). */
  uncleanSwitches = 0;
  /** Simulated times at which the miner started on a pool, and which (for the work measure). */
  readonly segmentStart: number[] = [];
  readonly segmentPool: number[] = [];
  failure: string | undefined;
  /** The space being searched, where in it (hashes since the restart), and as of when (wall ms). */
  space: SearchedSpace | undefined;
  position = 0;
  positionAt = 0;
  /** Next share to re-find in a space searched before. */
  replayed = 0;
  readonly spaces = new Map<string, SearchedSpace>();
  submitted = 0;
  duplicates = 0;

  constructor(
    readonly index: number,
    readonly hashrate: number,
    readonly socket: Socket,
  ) {}
}

export class AsicFarm {
  /** Every share submitted, by nonce. */
  readonly shares = new Map<number, FarmShare>();
  readonly answers = { accepted: 0, refused: 0, errors: new Map<string, number>() };
  private readonly options: AsicFarmOptions;
  private readonly miners: SimulatedAsic[] = [];
  private nextNonce = 0;
  private nextSubmitId = FIRST_SUBMIT_ID;
  private stopped = false;

  constructor(options: AsicFarmOptions) {
    this.options = options;
  }

  /** Simulated seconds at performance.now() `at`. */
  simTime(at: number): number {
    return ((at - this.options.epoch) * this.options.timeScale) / 1000;
  }

  /** Connects every miner; resolves once each holds a job. */
  async connect(timeoutMs = 30_000): Promise<void> {
    this.options.hashrates.forEach((hashrate, index) => this.miners.push(this.open(index, hashrate)));
    await waitUntil(
      () => this.miners.every((m) => m.job !== undefined || m.failure !== undefined),
      timeoutMs,
      'every simulated ASIC to receive a job',
      () => `${this.miners.filter((m) => m.job !== undefined).length} of ${this.miners.length}`,
    );
    const failed = this.miners.find((m) => m.failure !== undefined);
    if (failed !== undefined) throw new Error(`simulated ASIC ${failed.index}: ${failed.failure!}`);
  }

  /** Stops finding shares and closes every connection. */
  stop(): void {
    this.stopped = true;
    for (const miner of this.miners) {
      clearTimeout(miner.timer);
      miner.socket.destroy();
    }
  }

  /** Miners whose connection failed after the handshake, with why. */
  failures(): string[] {
    return this.miners.filter((m) => m.failure !== undefined).map((m) => `miner ${m.index}: ${m.failure!}`);
  }

  /**
   * Per miner: switches of pool (by job content), of upstream session (by job-id prefix),
   * switches that were not clean notifies, and notifies.
   */
  switchCounts(): { pool: number; session: number; unclean: number; notifies: number }[] {
    return this.miners.map((m) => ({
      pool: m.poolSwitches,
      session: m.sessionSwitches,
      unclean: m.uncleanSwitches,
      notifies: m.notifies,
    }));
  }

  /** Pool switches per miner made in simulated time [from, to). */
  switchesBetween(from: number, to: number): number {
    let switches = 0;
    for (const m of this.miners) {
      for (let i = 1; i < m.segmentStart.length; i++) {
        const at = m.segmentStart[i]!;
        if (at >= from && at < to && m.segmentPool[i] !== m.segmentPool[i - 1]) switches++;
      }
    }
    return switches / this.miners.length;
  }

  /** Per miner: shares submitted and those the proxy called duplicates (re-mined space). */
  duplicateCounts(): { submitted: number; duplicates: number }[] {
    return this.miners.map((m) => ({ submitted: m.submitted, duplicates: m.duplicates }));
  }

  /** The difficulty each miner was mining at last (where vardiff settled). */
  difficulties(): number[] {
    return this.miners.map((m) => m.difficulty ?? 0);
  }

  /**
   * The placement itself, free of share luck: hashrate × time each miner spent on each pool's
   * jobs, cut into pieces at `stepSeconds` boundaries up to `until`.
   */
  workStream(stepSeconds: number, until: number): ShareStream {
    const builder = new ShareStreamBuilder();
    for (const m of this.miners) {
      for (let i = 0; i < m.segmentStart.length; i++) {
        const pool = m.segmentPool[i]!;
        const end = Math.min(until, m.segmentStart[i + 1] ?? until);
        let from = m.segmentStart[i]!;
        if (pool === UNKNOWN_POOL) continue;
        while (from < end) {
          const cut = Math.min(end, (Math.floor(from / stepSeconds) + 1) * stepSeconds);
          builder.push((from + cut) / 2, pool, m.hashrate * (cut - from));
          from = cut;
        }
      }
    }
    return builder.build();
  }

  private open(index: number, hashrate: number): SimulatedAsic {
    const socket = connect({ host: this.options.host, port: this.options.port });
    const miner = new SimulatedAsic(index, hashrate, socket);
    socket.setNoDelay(true);
    socket.once('connect', () => {
      socket.write(
        serializeRequest(SUBSCRIBE_ID, 'mining.subscribe', ['hashrelay-bench-asic/0.1']) +
          serializeRequest(AUTHORIZE_ID, 'mining.authorize', [`farm.m${index}`, 'x']),
      );
    });
    socket.on('data', (chunk: Buffer) => {
      this.onData(miner, chunk);
    });
    socket.on('error', (error) => {
      miner.failure ??= `socket error: ${error.message}`;
    });
    socket.on('close', () => {
      if (!this.stopped) miner.failure ??= 'closed by the proxy';
      clearTimeout(miner.timer);
    });
    return miner;
  }

  private onData(miner: SimulatedAsic, chunk: Buffer): void {
    const { lines } = miner.framer.push(chunk);
    for (const line of lines) {
      const parsed = parsePoolMessage(line);
      if (!parsed.ok) continue;
      const message = parsed.message;
      if (message.kind === 'response') {
        const id = message.id;
        if (id === SUBSCRIBE_ID) {
          const decoded = decodeSubscribeResult(message.result, id);
          if (!decoded.ok) {
            miner.failure = `subscribe refused: ${message.error?.message ?? decoded.error.message}`;
            continue;
          }
          miner.extranonce1 = decoded.value.extranonce1;
          miner.extranonce2Size = decoded.value.extranonce2Size;
        } else if (typeof id === 'number' && id >= FIRST_SUBMIT_ID) {
          if (message.error !== null) {
            if (message.error.code === DUPLICATE_SHARE) miner.duplicates++;
            const key = `${message.error.code} ${message.error.message.slice(0, 100)}`;
            this.answers.errors.set(key, (this.answers.errors.get(key) ?? 0) + 1);
          } else if (message.result === true) this.answers.accepted++;
          else this.answers.refused++;
        }
        continue;
      }
      if (message.kind === 'mining.set_difficulty') miner.nextDifficulty = message.difficulty;
      else if (message.kind === 'mining.notify') this.onJob(miner, message.job);
    }
  }

  private onJob(miner: SimulatedAsic, job: Job): void {
    if (miner.extranonce1 === undefined || this.stopped) return;
    const now = performance.now();
    const pool = this.options.poolOf(bytesToHex(job.prevhash)) ?? UNKNOWN_POOL;
    const session = job.jobId.slice(0, job.jobId.indexOf('.') + 1);
    const first = miner.job === undefined;
    if (first || pool !== miner.pool) {
      if (!first) miner.poolSwitches++;
      if (!first && !job.cleanJobs) miner.uncleanSwitches++;
      miner.segmentStart.push(this.simTime(now));
      miner.segmentPool.push(pool);
    }
    if (!first && session !== miner.session) miner.sessionSwitches++;
    miner.notifies++;
    this.advance(miner, now);
    if (first || job.jobId !== miner.job!.jobId) {
      // A new job id: the search starts again from extranonce2 0, in this job's space.
      const key = spaceKey(job);
      let space = miner.spaces.get(key);
      if (space === undefined) {
        space = { covered: 0, shares: [] };
        miner.spaces.set(key, space);
      }
      miner.space = space;
      miner.position = 0;
      miner.replayed = 0;
    }
    miner.job = job;
    miner.pool = pool;
    miner.session = session;
    miner.prepared = prepareJob(job, miner.extranonce1);
    if (miner.nextDifficulty !== miner.difficulty) {
      miner.difficulty = miner.nextDifficulty;
      // The Poisson process is memoryless: at a new rate, draw the next share afresh.
      miner.due = now + exponential(this.options.random, this.meanIntervalMs(miner));
      clearTimeout(miner.timer);
      miner.timer = setTimeout(() => {
        this.onDue(miner);
      }, miner.due - now);
    }
  }

  /** Moves the miner's search position on to `now` and extends what its space has covered. */
  private advance(miner: SimulatedAsic, now: number): void {
    if (miner.space !== undefined) {
      miner.position += (miner.hashrate * (now - miner.positionAt) * this.options.timeScale) / 1000;
      miner.space.covered = Math.max(miner.space.covered, miner.position);
    }
    miner.positionAt = now;
  }

  /** A share this miner found before at this point of the space, if it is searching covered ground. */
  private refound(miner: SimulatedAsic): SearchedSpace['shares'][number] | undefined {
    const space = miner.space!;
    while (miner.replayed < space.shares.length) {
      const share = space.shares[miner.replayed++]!;
      if (share.shareDifficulty >= miner.difficulty!) return share;
    }
    return undefined;
  }

  /** Wall milliseconds between shares, on average, at the miner's current difficulty. */
  private meanIntervalMs(miner: SimulatedAsic): number {
    return ((miner.difficulty! * 2 ** 32) / miner.hashrate / this.options.timeScale) * 1000;
  }

  private onDue(miner: SimulatedAsic): void {
    if (this.stopped || miner.failure !== undefined) return;
    const now = performance.now();
    // Due times advance from the schedule, not from when the timer ran: a late timer
    // delays shares but does not lose them, so the rate is the hashrate's.
    while (miner.due <= now) {
      this.submitShare(miner);
      miner.due += exponential(this.options.random, this.meanIntervalMs(miner));
    }
    miner.timer = setTimeout(() => {
      this.onDue(miner);
    }, miner.due - now);
  }

  private submitShare(miner: SimulatedAsic): void {
    const job = miner.job!;
    const difficulty = miner.difficulty!;
    const covered = miner.space!.covered;
    this.advance(miner, performance.now());
    miner.submitted++;
    const again = miner.position <= covered ? this.refound(miner) : undefined;
    if (again !== undefined) {
      miner.socket.write(
        serializeRequest(this.nextSubmitId++, 'mining.submit', [
          `farm.m${miner.index}`,
          job.jobId,
          bytesToHex(again.extranonce2),
          u32ToHex(job.ntime),
          u32ToHex(again.nonce),
        ]),
      );
      return;
    }
    const extranonce2 = new Uint8Array(miner.extranonce2Size);
    const counter = miner.extranonce2Counter++ >>> 0;
    for (let i = 0; i < Math.min(4, extranonce2.length); i++)
      extranonce2[extranonce2.length - 1 - i] = (counter >>> (8 * i)) & 0xff;
    for (let hashes = 0; ; hashes++) {
      if (hashes > MAX_HASHES_PER_SHARE)
        throw new Error(
          `simulated ASIC ${miner.index}: no share in ${MAX_HASHES_PER_SHARE} hashes at difficulty ${difficulty}: ` +
            'give the proxy a tiny vardiff (min and initial difficulty around 2^-26)',
        );
      const nonce = this.nextNonce;
      this.nextNonce = (this.nextNonce + 1) >>> 0;
      const verdict = checkShare({
        job: miner.prepared!,
        extranonce2Size: miner.extranonce2Size,
        submission: { extranonce2, ntime: job.ntime, nonce, versionBits: undefined },
        versionMask: 0,
        assignedDifficulty: difficulty,
      });
      if (verdict.work === null) throw new Error(`simulated ASIC built a malformed share: ${verdict.detail}`);
      if (!verdict.valid) continue;
      this.shares.set(nonce, { miner: miner.index, difficulty, pool: miner.pool });
      miner.space!.shares.push({ extranonce2, nonce, shareDifficulty: verdict.work.shareDifficulty });
      miner.socket.write(
        serializeRequest(this.nextSubmitId++, 'mining.submit', [
          `farm.m${miner.index}`,
          job.jobId,
          bytesToHex(extranonce2),
          u32ToHex(job.ntime),
          u32ToHex(nonce),
        ]),
      );
      return;
    }
  }
}
