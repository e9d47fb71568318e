import type { Metagraph, Neuron, Uid } from '../src/chain/chain.js';
import { maxUpscaleU16 } from '../src/chain/weight-limits.js';
import { availableParallelism } from 'node:os';
import type {
  LedgerJobId,
  LedgerReader,
  LedgerShareId,
  LocalVerdict,
  ShareSpan,
  StoredJob,
  TimeWindow,
} from '../src/ledger/ledger.js';
import {
  jobIdsOf,
  lastShareId,
  ShareColumnsView,
  type ShareColumns,
} from '../src/ledger/sqlite-ledger-batch.js';
import { candidateVersions, ShareCheck } from './audit-page.js';
import { InlineVerifier, ThreadedVerifier, type CheckedPage, type PageVerifier } from './audit-threads.js';
import { CreditedHashes } from './credited-hashes.js';
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
  /** Shares a page of the ledger's stream holds (default 16 384): the unit read, checked and sent to a thread. */
  readonly pageShares?: number;
  /** Threads checking shares (default: one a core); 0 checks them on the calling thread. */
  readonly threads?: number;
  /** Failures kept in the report (default 1000); all are counted. */
  readonly maxFailuresListed?: number;
  /** Called after each page with the shares checked so far and the window's total. */
  readonly onProgress?: (sharesChecked: number, sharesTotal: number) => void;
}

/** Score comparisons allow this relative difference: the ledger and the audit sum in different orders. */
export const SCORE_TOLERANCE = 1e-9;

const JOB_CACHE_SIZE = 100_000;

/** The share check's failures, as the report names them. */
const CHECK_FAILURES = new Map<number, AuditFailureKind>([
  [ShareCheck.missingJob, 'missing-job'],
  [ShareCheck.malformed, 'malformed'],
  [ShareCheck.hashMismatch, 'hash-mismatch'],
]);

export { candidateVersions };

/** Audits every share the ledger stamped in [window.from, window.to). */
export async function auditWindow(
  ledger: LedgerReader,
  window: TimeWindow,
  options: AuditOptions = {},
): Promise<AuditReport> {
  if (!(window.to > window.from)) throw new RangeError(`window [${window.from}, ${window.to}) is empty`);
  const started = performance.now();
  const threads = Math.max(0, Math.floor(options.threads ?? availableParallelism()));
  const tally = new AuditTally(options.maxFailuresListed ?? 1000);
  const span = await ledger.shareSpan(window);
  // No threads started for a window with nothing to check.
  const verifier: PageVerifier =
    threads === 0 || span.count === 0 ? new InlineVerifier() : new ThreadedVerifier(threads);
  try {
    await streamPages(ledger, window, span, verifier, {
      pageShares: Math.max(1, Math.floor(options.pageShares ?? 16_384)),
      // Enough pages in flight to keep every thread busy while the next page is read.
      inFlight: Math.max(2, threads * 2),
      onPage: (checked) => {
        tally.add(checked);
        options.onProgress?.(tally.sharesChecked, span.count);
      },
    });
  } finally {
    await verifier.close();
  }

  const ledgerTotals = new Map<string, number>();
  for (const totals of await ledger.minerTotals(window)) {
    ledgerTotals.set(totals.miner, (ledgerTotals.get(totals.miner) ?? 0) + totals.creditedDifficulty);
  }
  const identities = [...new Set([...tally.credit.keys(), ...ledgerTotals.keys()])].sort();
  const creditRows: IdentityCredit[] = identities.map((miner) => {
    const entry = tally.credit.get(miner);
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
  const sharesChecked = tally.sharesChecked;
  const failed = Object.values(tally.failureCounts).some((count) => count > 0);
  return {
    window,
    sharesChecked,
    byVerdict: tally.byVerdict,
    failureCounts: tally.failureCounts,
    failures: tally.failures,
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

interface StreamOptions {
  readonly pageShares: number;
  readonly inFlight: number;
  /** Each checked page, in ledger order. */
  readonly onPage: (checked: CheckedPage) => void;
}

/**
 * Reads the window page after page in id order and has each checked as soon as it is read,
 * with up to `inFlight` pages read or being checked ahead of the one taken next.
 */
async function streamPages(
  ledger: LedgerReader,
  window: TimeWindow,
  span: ShareSpan,
  verifier: PageVerifier,
  options: StreamOptions,
): Promise<void> {
  if (span.count === 0) return;
  const jobs = new Map<LedgerJobId, StoredJob | null>();
  const read = (afterId: number): Promise<ShareColumns> =>
    ledger.sharePage(window, { afterId, throughId: span.lastId, limit: options.pageShares });
  let reading: Promise<ShareColumns> | undefined = read(span.firstId - 1);
  const checking: Promise<CheckedPage>[] = [];
  try {
    for (;;) {
      while (reading !== undefined && checking.length < options.inFlight) {
        const page: ShareColumns = await reading;
        const last = lastShareId(page, span.lastId);
        reading = page.count < options.pageShares || last >= span.lastId ? undefined : read(last);
        if (page.count > 0) checking.push(checkPage(ledger, jobs, verifier, page));
      }
      const next = checking.shift();
      if (next === undefined) return;
      options.onPage(await next);
    }
  } finally {
    // Awaited above unless something failed first; a rejection then is not unhandled meanwhile.
    reading?.catch(() => undefined);
    for (const pending of checking) pending.catch(() => undefined);
  }
}

/** Loads the page's jobs not yet cached (each a round trip, in parallel), then has the page checked. */
async function checkPage(
  ledger: LedgerReader,
  jobs: Map<LedgerJobId, StoredJob | null>,
  verifier: PageVerifier,
  page: ShareColumns,
): Promise<CheckedPage> {
  const named = jobIdsOf(page);
  const wanted = [...named].filter((id) => !jobs.has(id));
  const loaded = await Promise.all(wanted.map((id) => ledger.job(id)));
  wanted.forEach((id, i) => {
    if (jobs.size >= JOB_CACHE_SIZE) jobs.clear(); // reloaded as pages name them again
    jobs.set(id, loaded[i] ?? null);
  });
  const pageJobs = new Map<LedgerJobId, StoredJob | null>();
  for (const id of named) pageJobs.set(id, jobs.get(id) ?? null);
  return verifier.check(page, pageJobs);
}

interface CreditEntry {
  acceptedShares: number;
  recorded: number;
  verified: number;
}

/** The audit's running account, fed checked pages in ledger order. */
class AuditTally {
  sharesChecked = 0;
  readonly byVerdict: Partial<Record<LocalVerdict, number>> = {};
  readonly failureCounts: Partial<Record<AuditFailureKind, number>> = {};
  readonly failures: ShareFailure[] = [];
  readonly credit = new Map<string, CreditEntry>();
  private readonly seen = new CreditedHashes();

  constructor(private readonly maxListed: number) {}

  add({ page, verdicts }: CheckedPage): void {
    const view = new ShareColumnsView(page);
    const details = new Map(verdicts.details);
    for (let i = 0; i < view.count; i++) this.addShare(view, i, verdicts.codes[i]!, details.get(i));
  }

  private addShare(view: ShareColumnsView, i: number, code: number, detail: string | undefined): void {
    this.sharesChecked += 1;
    const verdict = view.verdict(i) as LocalVerdict;
    const assigned = view.assignedDifficulty(i);
    this.byVerdict[verdict] = (this.byVerdict[verdict] ?? 0) + 1;
    let entry: CreditEntry | undefined;
    if (verdict === 'accepted') {
      const miner = view.miner(i);
      entry = this.credit.get(miner);
      if (entry === undefined)
        this.credit.set(miner, (entry = { acceptedShares: 0, recorded: 0, verified: 0 }));
      entry.acceptedShares += 1;
      entry.recorded += assigned;
    }
    if (code === ShareCheck.skipped) return;
    const failure = CHECK_FAILURES.get(code);
    if (failure !== undefined) {
      this.fail(view, i, failure, detail ?? '');
      return;
    }
    const meets = code === ShareCheck.meets;
    if (entry !== undefined) {
      if (!meets) {
        this.fail(
          view,
          i,
          'below-assigned-difficulty',
          `hash does not meet the assigned difficulty ${assigned}`,
        );
      } else if (!this.seen.add(view.bytes, view.hashStart(i))) {
        // Verified: the stored hash is the one rebuilt, so it keys the proof of work.
        this.fail(view, i, 'duplicate-credit', 'an earlier accepted share in the window has the same hash');
      } else {
        entry.verified += assigned;
      }
    } else if (verdict === 'low-difficulty' && meets) {
      this.fail(view, i, 'refused-valid-share', `hash meets the assigned difficulty ${assigned}`);
    }
  }

  private fail(view: ShareColumnsView, i: number, kind: AuditFailureKind, detail: string): void {
    this.failureCounts[kind] = (this.failureCounts[kind] ?? 0) + 1;
    if (this.failures.length >= this.maxListed) return;
    this.failures.push({
      shareId: view.id(i),
      kind,
      time: view.time(i),
      miner: view.miner(i),
      worker: view.worker(i),
      jobId: view.jobId(i),
      verdict: view.verdict(i) as LocalVerdict,
      assignedDifficulty: view.assignedDifficulty(i),
      detail,
    });
  }
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
  ledger: LedgerReader,
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
