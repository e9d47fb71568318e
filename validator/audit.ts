import type { Metagraph, Neuron, Uid } from '../src/chain/chain.js';
import { maxUpscaleU16 } from '../src/chain/weight-limits.js';
import type {
  Ledger,
  LedgerJobId,
  LedgerShareId,
  LocalVerdict,
  StoredJob,
  StoredShare,
  TimeWindow,
} from '../src/ledger/ledger.js';
import { toDisplayHex } from '../src/work/bytes.js';
import { checkShare, prepareJob, type PreparedJob, type ShareVerdict } from '../src/work/share-check.js';
import { toDifficulty, toJobId, type Difficulty, type U32 } from '../src/work/types.js';
import { BIP320_VERSION_MASK, rollVersion } from '../src/work/version-rolling.js';
import { isMarkedIdentity } from './admission.js';
import { scoreWindow, type WindowScores } from './scoring.js';
import { toU16Vector, WeightsError, type U16Vector, type U16Weights } from './weights.js';

/**
 * `hashrelay audit`: re-verifies every share a ledger holds for a window from its stored job
 * (coinbase, merkle branches, version rolling, header, sha256d), recomputes each identity's
 * credit from the shares that verify alone, and from that the scores and the u16 vector the
 * validator posts; then compares them with the ledger's own totals, with `scoreWindow` (the
 * validator's computation) and, when given, with the weights on chain.
 */

/** Why an audited share does not hold up. */
export type AuditFailureKind =
  /** The share names a job the ledger does not hold. */
  | 'missing-job'
  /** The share cannot be rebuilt against its job (extranonce2 size, ntime, no hash, difficulty). */
  | 'malformed'
  /** The header rebuilt from the job and the share does not hash to the stored hash. */
  | 'hash-mismatch'
  /** Accepted, but the hash does not meet the difficulty it was credited at. */
  | 'below-assigned-difficulty'
  /** Accepted with the same hash as an earlier accepted share in the window: credited twice. */
  | 'duplicate-credit'
  /** Refused as low-difficulty, but the hash meets the assigned difficulty: the miner lost credit. */
  | 'refused-valid-share';

export const AUDIT_FAILURE_KINDS: readonly AuditFailureKind[] = [
  'missing-job',
  'malformed',
  'hash-mismatch',
  'below-assigned-difficulty',
  'duplicate-credit',
  'refused-valid-share',
];

export interface ShareFailure {
  readonly shareId: LedgerShareId;
  readonly kind: AuditFailureKind;
  readonly time: number;
  readonly miner: string;
  readonly worker: string;
  readonly jobId: LedgerJobId | null;
  readonly verdict: LocalVerdict;
  readonly assignedDifficulty: number;
  readonly detail: string;
}

/** One miner identity's credit three ways; they agree on an honest ledger. */
export interface IdentityCredit {
  readonly miner: string;
  /** Accepted shares in the window. */
  readonly acceptedShares: number;
  /** Σ assigned difficulty of the accepted rows, as scanned. */
  readonly recorded: number;
  /** Σ assigned difficulty of the accepted rows that re-verify: what the audit credits. */
  readonly verified: number;
  /** The ledger's aggregate (`minerTotals`), summed over workers: what `scoreWindow` credits. */
  readonly ledgerTotal: number;
}

export interface UidScore {
  readonly uid: Uid;
  readonly hotkey: string | undefined;
  readonly audited: number | undefined;
  readonly validator: number | undefined;
}

export interface ScoreAudit {
  readonly netuid: number;
  readonly block: number;
  /** Scores from the re-verified shares alone. */
  readonly audited: WindowScores;
  /** `scoreWindow` over the same ledger, window and metagraph. */
  readonly validator: WindowScores;
  /** Every uid either side scores, in uid order. */
  readonly byUid: readonly UidScore[];
  /** Uids whose scores differ (beyond float summation order). */
  readonly differences: readonly UidScore[];
  /** The vector from the audited scores; undefined when the subnet's rules admit none. */
  readonly vector: U16Vector | undefined;
  readonly validatorVector: U16Vector | undefined;
  readonly vectorError: string | undefined;
  readonly vectorsEqual: boolean;
}

export interface AuditReport {
  readonly window: TimeWindow;
  readonly sharesChecked: number;
  readonly byVerdict: Readonly<Partial<Record<LocalVerdict, number>>>;
  readonly failureCounts: Readonly<Partial<Record<AuditFailureKind, number>>>;
  /** The first `maxFailuresListed` failures, in share order (counts above cover all of them). */
  readonly failures: readonly ShareFailure[];
  /** Per identity, in identity order. */
  readonly credit: readonly IdentityCredit[];
  /** Identities whose verified or recorded credit differs from the ledger's aggregate. */
  readonly creditDifferences: readonly IdentityCredit[];
  /** Present when a metagraph was given. */
  readonly scores: ScoreAudit | undefined;
  readonly elapsedMs: number;
  readonly sharesPerSecond: number;
  /** Every share verifies and every comparison agrees. */
  readonly ok: boolean;
}

export interface AuditOptions {
  /** Score by uid and compare with `scoreWindow` against this metagraph. */
  readonly metagraph?: Metagraph;
  /** The first page's span, ms (default 10 minutes); pages then grow or shrink toward `pageShares`. */
  readonly pageMs?: number;
  /** Shares per page aimed at (default 50 000): `Ledger.shares` returns a whole page at once. */
  readonly pageShares?: number;
  /** Failures kept in the report (default 1000); all are counted. */
  readonly maxFailuresListed?: number;
  /** Called after each page with the shares checked so far. */
  readonly onProgress?: (sharesChecked: number) => void;
}

/** Score comparisons allow this relative difference: the ledger and the audit sum in different orders. */
export const SCORE_TOLERANCE = 1e-9;

// The proxy never accepts ntime before the job's; how far ahead it allows is its own setting.
const ANY_NTIME_AHEAD = 2 ** 32;
const ALL_BITS: U32 = 0xffffffff;
const JOB_CACHE_SIZE = 100_000;

type AuditJob =
  { readonly prepared: PreparedJob; readonly extranonce2Size: number } | { readonly error: string };

interface Page {
  readonly to: number;
  readonly rows: Promise<StoredShare[]>;
}

type ShareOutcome =
  | { readonly kind: 'ok'; readonly meets: boolean; readonly hash: Uint8Array }
  | { readonly kind: 'skip' }
  | { readonly kind: 'fail'; readonly failure: AuditFailureKind; readonly detail: string };

/** Audits every share the ledger stamped in [window.from, window.to). */
export async function auditWindow(
  ledger: Ledger,
  window: TimeWindow,
  options: AuditOptions = {},
): Promise<AuditReport> {
  if (!(window.to > window.from)) throw new RangeError(`window [${window.from}, ${window.to}) is empty`);
  const started = performance.now();
  const maxListed = options.maxFailuresListed ?? 1000;
  const pageShares = options.pageShares ?? 50_000;
  let span = Math.max(1, Math.floor(options.pageMs ?? 10 * 60_000));

  const jobs = new Map<LedgerJobId, AuditJob | undefined>();
  const seen = new Set<string>();
  const byVerdict: Partial<Record<LocalVerdict, number>> = {};
  const failureCounts: Partial<Record<AuditFailureKind, number>> = {};
  const failures: ShareFailure[] = [];
  const credit = new Map<string, { acceptedShares: number; recorded: number; verified: number }>();
  let sharesChecked = 0;

  const fail = (share: StoredShare, kind: AuditFailureKind, detail: string): void => {
    failureCounts[kind] = (failureCounts[kind] ?? 0) + 1;
    if (failures.length >= maxListed) return;
    failures.push({
      shareId: share.id,
      kind,
      time: share.time,
      miner: share.miner,
      worker: share.worker,
      jobId: share.jobId,
      verdict: share.verdict,
      assignedDifficulty: share.assignedDifficulty,
      detail,
    });
  };

  // Ledger.shares returns a whole window at once: page by sub-windows sized to ~pageShares,
  // and read the next page while this one is checked (the backend answers off this thread).
  const fetchPage = (from: number): Page => {
    const to = Math.min(window.to, from + span);
    const rows = ledger.shares({ from, to });
    rows.catch(() => undefined); // awaited below; an early rejection is not unhandled meanwhile
    return { to, rows };
  };
  for (let next: Page | undefined = fetchPage(window.from); next !== undefined;) {
    const page = await next.rows;
    const pageTo: number = next.to;
    if (page.length > 2 * pageShares) span = Math.max(1, Math.floor(span / 2));
    else if (page.length < pageShares / 2) span = Math.min(span * 2, window.to - window.from);
    await loadJobs(ledger, jobs, page);
    next = pageTo < window.to ? fetchPage(pageTo) : undefined;
    for (const share of page) {
      sharesChecked += 1;
      byVerdict[share.verdict] = (byVerdict[share.verdict] ?? 0) + 1;
      const accepted = share.verdict === 'accepted';
      let entry = credit.get(share.miner);
      if (accepted) {
        if (entry === undefined)
          credit.set(share.miner, (entry = { acceptedShares: 0, recorded: 0, verified: 0 }));
        entry.acceptedShares += 1;
        entry.recorded += share.assignedDifficulty;
      }
      const outcome = auditShare(share, share.jobId === null ? undefined : jobs.get(share.jobId));
      if (outcome.kind === 'fail') {
        fail(share, outcome.failure, outcome.detail);
        continue;
      }
      if (outcome.kind === 'skip') continue;
      if (accepted) {
        if (!outcome.meets) {
          fail(
            share,
            'below-assigned-difficulty',
            `hash does not meet the assigned difficulty ${share.assignedDifficulty}`,
          );
          continue;
        }
        // The low 16 bytes of a share hash are its random part: a collision-free key at half the memory.
        const key = Buffer.from(outcome.hash.buffer, outcome.hash.byteOffset, 16).toString('latin1');
        if (seen.has(key)) {
          fail(share, 'duplicate-credit', 'an earlier accepted share in the window has the same hash');
          continue;
        }
        seen.add(key);
        entry!.verified += share.assignedDifficulty;
      } else if (share.verdict === 'low-difficulty' && outcome.meets) {
        fail(share, 'refused-valid-share', `hash meets the assigned difficulty ${share.assignedDifficulty}`);
      }
    }
    options.onProgress?.(sharesChecked);
  }

  const ledgerTotals = new Map<string, number>();
  for (const totals of await ledger.minerTotals(window)) {
    ledgerTotals.set(totals.miner, (ledgerTotals.get(totals.miner) ?? 0) + totals.creditedDifficulty);
  }
  const identities = [...new Set([...credit.keys(), ...ledgerTotals.keys()])].sort();
  const creditRows: IdentityCredit[] = identities.map((miner) => {
    const entry = credit.get(miner);
    return {
      miner,
      acceptedShares: entry?.acceptedShares ?? 0,
      recorded: entry?.recorded ?? 0,
      verified: entry?.verified ?? 0,
      ledgerTotal: ledgerTotals.get(miner) ?? 0,
    };
  });
  const creditDifferences = creditRows.filter(
    (row) => !closeEnough(row.verified, row.ledgerTotal) || !closeEnough(row.recorded, row.ledgerTotal),
  );

  const scores =
    options.metagraph === undefined
      ? undefined
      : await auditScores(
          ledger,
          window,
          options.metagraph,
          new Map(creditRows.map((row) => [row.miner, row.verified])),
        );

  const elapsedMs = performance.now() - started;
  const failed = Object.values(failureCounts).some((count) => count > 0);
  return {
    window,
    sharesChecked,
    byVerdict,
    failureCounts,
    failures,
    credit: creditRows,
    creditDifferences,
    scores,
    elapsedMs,
    sharesPerSecond: elapsedMs > 0 ? (sharesChecked * 1000) / elapsedMs : 0,
    ok:
      !failed &&
      creditDifferences.length === 0 &&
      (scores === undefined || (scores.differences.length === 0 && scores.vectorsEqual)),
  };
}

/** Fetches the page's jobs not yet cached, in parallel (each is a round trip to the backend). */
async function loadJobs(
  ledger: Ledger,
  jobs: Map<LedgerJobId, AuditJob | undefined>,
  page: readonly StoredShare[],
): Promise<void> {
  const wanted = new Set<LedgerJobId>();
  for (const share of page) if (share.jobId !== null && !jobs.has(share.jobId)) wanted.add(share.jobId);
  const loaded = await Promise.all([...wanted].map((id) => ledger.job(id)));
  for (const [i, id] of [...wanted].entries()) {
    if (jobs.size >= JOB_CACHE_SIZE) jobs.delete(jobs.keys().next().value!);
    const job = loaded[i];
    jobs.set(id, job === undefined ? undefined : toAuditJob(job));
  }
}

function toAuditJob(job: StoredJob): AuditJob {
  try {
    const prepared = prepareJob(
      {
        jobId: toJobId(job.upstreamJobId),
        prevhash: job.prevhash,
        coinb1: job.coinb1,
        coinb2: job.coinb2,
        merkleBranch: job.merkleBranch,
        version: job.version,
        nbits: job.nbits,
        ntime: job.ntime,
        cleanJobs: job.cleanJobs,
      },
      job.extranonce1,
    );
    return { prepared, extranonce2Size: job.extranonce2Size };
  } catch (error) {
    return { error: `job ${job.id} cannot be mined: ${(error as Error).message}` };
  }
}

/**
 * The header versions a share may have been hashed with. The ledger keeps the version bits as
 * sent but not the mask negotiated with the miner, so the audit rolls them under the BIP 320
 * mask (what the proxy offers and pools grant), then takes them as a full version (miners that
 * send the whole rolled version, or a mask wider than BIP 320). The proxy keeps the job version's
 * own bits out of the mask it offers, so its header is the job version OR the rolled bits: first.
 */
export function candidateVersions(jobVersion: U32, versionBits: U32 | null): U32[] {
  if (versionBits === null) return [jobVersion];
  const rolled = rollVersion(jobVersion, BIP320_VERSION_MASK, versionBits);
  if (!rolled.ok) return [versionBits];
  const kept = (jobVersion | (versionBits & BIP320_VERSION_MASK)) >>> 0;
  return [...new Set([kept, rolled.version, versionBits])];
}

/** Rebuilds one share's header from its job, hashes it and compares it with the stored hash. */
function auditShare(share: StoredShare, job: AuditJob | undefined): ShareOutcome {
  const accepted = share.verdict === 'accepted';
  if (share.jobId === null) {
    return accepted
      ? { kind: 'fail', failure: 'missing-job', detail: 'accepted without naming a job' }
      : { kind: 'skip' };
  }
  if (job === undefined) {
    return { kind: 'fail', failure: 'missing-job', detail: `job ${share.jobId} is not in the ledger` };
  }
  if ('error' in job) return { kind: 'fail', failure: 'malformed', detail: job.error };
  if (share.hash === null) {
    return accepted
      ? { kind: 'fail', failure: 'malformed', detail: 'accepted but no hash was stored' }
      : { kind: 'skip' };
  }
  const positive = share.assignedDifficulty > 0 && Number.isFinite(share.assignedDifficulty);
  if (accepted && !positive) {
    return {
      kind: 'fail',
      failure: 'malformed',
      detail: `accepted at difficulty ${share.assignedDifficulty}, which is not positive`,
    };
  }
  const difficulty: Difficulty = toDifficulty(positive ? share.assignedDifficulty : 1);
  let last: ShareVerdict | undefined;
  for (const version of candidateVersions(job.prepared.job.version, share.versionBits)) {
    last = checkShare({
      job: job.prepared,
      extranonce2Size: job.extranonce2Size,
      submission: {
        extranonce2: share.extranonce2,
        ntime: share.ntime,
        nonce: share.nonce,
        versionBits: version,
      },
      versionMask: ALL_BITS, // `version` is already the full header version
      assignedDifficulty: difficulty,
      maxNtimeAheadSeconds: ANY_NTIME_AHEAD,
    });
    if (last.work === null) return { kind: 'fail', failure: 'malformed', detail: last.detail };
    if (sameBytes(last.work.hash, share.hash)) {
      return { kind: 'ok', meets: positive && last.valid, hash: last.work.hash };
    }
  }
  return {
    kind: 'fail',
    failure: 'hash-mismatch',
    detail:
      `stored hash ${toDisplayHex(share.hash)}; the header rebuilt from job ${share.jobId} hashes to ` +
      toDisplayHex(last!.work!.hash),
  };
}

/** Scores from the audited credit, the same way `scoreWindow` turns ledger totals into scores. */
export function scoresFromCredit(
  credit: ReadonlyMap<string, number>,
  window: TimeWindow,
  metagraph: Metagraph,
): WindowScores {
  const uidOf = new Map<string, Uid>(metagraph.neurons.map((neuron) => [neuron.hotkey, neuron.uid]));
  const scores = new Map<Uid, number>();
  let creditedDifficulty = 0;
  let marked = 0;
  let notInMetagraph = 0;
  for (const [miner, credited] of credit) {
    if (!(credited > 0)) continue;
    if (isMarkedIdentity(miner)) {
      marked += credited;
      continue;
    }
    const uid = uidOf.get(miner);
    if (uid === undefined) {
      notInMetagraph += credited;
      continue;
    }
    scores.set(uid, (scores.get(uid) ?? 0) + credited);
    creditedDifficulty += credited;
  }
  const ownerUid = metagraph.ownerHotkey === undefined ? undefined : uidOf.get(metagraph.ownerHotkey);
  const burn = scores.size === 0;
  if (burn && ownerUid !== undefined) scores.set(ownerUid, 1);
  return {
    window,
    scores: new Map([...scores].sort(([a], [b]) => a - b)),
    burn,
    ownerUid,
    creditedDifficulty,
    uncredited: { marked, notInMetagraph },
  };
}

/** The vector `WeightPoster` would post for these scores on this metagraph. */
export function vectorFor(scores: WindowScores, metagraph: Metagraph): U16Vector {
  return toU16Vector(scores.scores, {
    maxWeightsLimit: metagraph.maxWeightsLimit,
    minAllowedWeights: metagraph.minAllowedWeights,
    n: subnetSize(metagraph.neurons),
  });
}

async function auditScores(
  ledger: Ledger,
  window: TimeWindow,
  metagraph: Metagraph,
  credit: ReadonlyMap<string, number>,
): Promise<ScoreAudit> {
  const audited = scoresFromCredit(credit, window, metagraph);
  const validator = await scoreWindow(ledger, window, metagraph);
  const hotkeyOf = new Map(metagraph.neurons.map((neuron) => [neuron.uid, neuron.hotkey as string]));
  const uids = [...new Set([...audited.scores.keys(), ...validator.scores.keys()])].sort((a, b) => a - b);
  const byUid = uids.map((uid) => ({
    uid,
    hotkey: hotkeyOf.get(uid),
    audited: audited.scores.get(uid),
    validator: validator.scores.get(uid),
  }));
  let vector: U16Vector | undefined;
  let validatorVector: U16Vector | undefined;
  let vectorError: string | undefined;
  try {
    vector = vectorFor(audited, metagraph);
    validatorVector = vectorFor(validator, metagraph);
  } catch (error) {
    if (!(error instanceof WeightsError)) throw error;
    vectorError = error.message;
  }
  return {
    netuid: metagraph.netuid,
    block: metagraph.block,
    audited,
    validator,
    byUid,
    differences: byUid.filter((row) => !closeEnough(row.audited ?? 0, row.validator ?? 0)),
    vector,
    validatorVector,
    vectorError,
    vectorsEqual:
      vectorError === undefined &&
      vector !== undefined &&
      validatorVector !== undefined &&
      sameVector(vector, validatorVector),
  };
}

export interface WeightDifference {
  readonly uid: Uid;
  readonly expected: number | undefined;
  readonly onChain: number | undefined;
}

export interface ChainWeightsComparison {
  readonly equal: boolean;
  /** The recomputed vector as the runtime stores it (max-upscaled to 65535), by uid. */
  readonly expected: ReadonlyMap<Uid, number>;
  readonly onChain: ReadonlyMap<Uid, number>;
  readonly differences: readonly WeightDifference[];
}

/** The recomputed vector against the weights a validator holds on chain (`Weights(netuid, uid)`). */
export function compareChainWeights(
  vector: U16Weights,
  onChain: ReadonlyMap<Uid, number>,
): ChainWeightsComparison {
  const upscaled = maxUpscaleU16(vector.values);
  const expected = new Map<Uid, number>();
  vector.uids.forEach((uid, i) => {
    if (upscaled[i]! > 0) expected.set(uid, upscaled[i]!);
  });
  const stored = new Map([...onChain].filter(([, value]) => value > 0).sort(([a], [b]) => a - b));
  const uids = [...new Set([...expected.keys(), ...stored.keys()])].sort((a, b) => a - b);
  const differences = uids
    .map((uid) => ({ uid, expected: expected.get(uid), onChain: stored.get(uid) }))
    .filter((row) => row.expected !== row.onChain);
  return { equal: differences.length === 0, expected, onChain: stored, differences };
}

function subnetSize(neurons: readonly Neuron[]): number {
  let n = 0;
  for (const neuron of neurons) n = Math.max(n, neuron.uid + 1);
  return n;
}

function sameVector(a: U16Weights, b: U16Weights): boolean {
  return (
    a.uids.length === b.uids.length &&
    a.uids.every((uid, i) => uid === b.uids[i] && a.values[i] === b.values[i])
  );
}

function closeEnough(a: number, b: number): boolean {
  return Math.abs(a - b) <= SCORE_TOLERANCE * Math.max(Math.abs(a), Math.abs(b));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
