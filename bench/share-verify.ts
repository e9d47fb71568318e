import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { checkShare, prepareJob, type PreparedJob } from '../src/work/share-check.js';
import { sha256d } from '../src/work/sha256.js';
import type { Sha256dBackend } from '../src/work/sha256d-backend.js';
import { jsSha256dBackend } from '../src/work/sha256d-js.js';
import { SHARE_HASH_OUT_BYTES, shareRecordStride, writeShareRecord } from '../src/work/share-hash-job.js';
import { sha256dSelection } from '../src/work/sha256d-native.js';
import { toDifficulty, toJobId } from '../src/work/types.js';
import type { Job } from '../src/work/job.js';

/**
 * Shares verified per second on one core, for jobs with 0, 6 and 12 merkle branches, with the
 * native sha256d backend (when the addon loaded) beside the JavaScript one, and this machine's
 * SHA-256 compression rate (openssl, SHA-NI where present) as the physical limit. Each share
 * has a fresh extranonce2 and nonce, so nothing is cached across shares.
 */

const SHARES_PER_ROUND = 200_000;

function makeJob(branches: number): Job {
  // A realistic coinbase: ~60-byte coinb1, ~140-byte coinb2 (two outputs and a witness commitment).
  return {
    jobId: toJobId('bench'),
    prevhash: randomBytes(32),
    coinb1: randomBytes(60),
    coinb2: randomBytes(140),
    merkleBranch: Array.from({ length: branches }, () => randomBytes(32)),
    version: 0x20000000,
    nbits: 0x17034219,
    ntime: 0x6700_0000,
    cleanJobs: true,
  };
}

/** sha256 compressions one share check performs: coinbase, 3 per branch, 3 for the header. */
function compressionsPerShare(job: Job, extranonce1Size: number, extranonce2Size: number): number {
  const coinbaseBytes = job.coinb1.length + extranonce1Size + extranonce2Size + job.coinb2.length;
  const coinbaseBlocks = Math.floor((coinbaseBytes + 8) / 64) + 1;
  return coinbaseBlocks + 1 + job.merkleBranch.length * 3 + 3;
}

/** Items per second of wall time and per second of this process's CPU time (robust to a busy machine). */
interface Rate {
  readonly wall: number;
  readonly cpu: number;
}

function rateOf(items: number, body: () => void): Rate {
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  body();
  const wallSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  return { wall: items / wallSeconds, cpu: items / ((cpu.user + cpu.system) / 1e6) };
}

function measure(
  prepared: PreparedJob,
  extranonce2Size: number,
  backend: Sha256dBackend,
  shares: number,
): Rate {
  const extranonce2 = new Uint8Array(extranonce2Size);
  const view = new DataView(extranonce2.buffer);
  const difficulty = toDifficulty(1 / 2 ** 20);
  let valid = 0;
  const rate = rateOf(shares, () => {
    for (let i = 0; i < shares; i++) {
      view.setUint32(0, i);
      const verdict = checkShare(
        {
          job: prepared,
          extranonce2Size,
          submission: {
            extranonce2,
            ntime: prepared.job.ntime,
            nonce: (i * 2654435761) >>> 0,
            versionBits: undefined,
          },
          versionMask: 0,
          assignedDifficulty: difficulty,
        },
        backend,
      );
      if (verdict.valid) valid++;
    }
  });
  if (valid === 0) throw new Error('no share met difficulty 2^-20: the check is broken');
  return rate;
}

/** The median and the best of five rounds after a warm-up: this machine is shared and noisy. */
function fiveRounds(round: () => Rate): { median: Rate; best: Rate } {
  round();
  const rates = Array.from({ length: 5 }, round);
  const wall = rates.map((rate) => rate.wall).sort((x, y) => x - y);
  const cpu = rates.map((rate) => rate.cpu).sort((x, y) => x - y);
  return { median: { wall: wall[2]!, cpu: cpu[2]! }, best: { wall: wall[4]!, cpu: cpu[4]! } };
}

function opensslCompressionsPerSecond(): number | null {
  try {
    const out = execFileSync('openssl', ['speed', '-evp', 'sha256', '-bytes', '16384', '-seconds', '2'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const line = out.split('\n').find((l) => /^sha256\s/i.test(l));
    const match = line?.match(/([\d.]+)k\s*$/);
    if (!match?.[1]) return null;
    return (Number(match[1]) * 1000) / 64;
  } catch {
    return null;
  }
}

function nativeSha256dPerSecond(): number {
  const data = randomBytes(64);
  const rounds = 200_000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) sha256d(data);
  return rounds / (Number(process.hrtime.bigint() - start) / 1e9);
}

export function runShareVerifyBench(): void {
  const limit = opensslCompressionsPerSecond();
  console.log('# share verification, one core');
  console.log(
    limit === null
      ? 'openssl speed unavailable: no physical-limit figure'
      : `openssl sha256 compression rate: ${(limit / 1e6).toFixed(2)} M/s`,
  );
  console.log(`node crypto.hash sha256d(64 bytes): ${(nativeSha256dPerSecond() / 1e3).toFixed(0)} k/s`);
  const selected = sha256dSelection.backend;
  console.log(
    sha256dSelection.fallbackReason === null
      ? `sha256d backend: ${selected.name} (native addon)`
      : `sha256d backend: js (${sha256dSelection.fallbackReason})`,
  );
  const backends = selected === jsSha256dBackend ? [selected] : [selected, jsSha256dBackend];
  const ofLimit = (rate: number, compressions: number) =>
    limit === null ? '' : ` (${((100 * rate * compressions) / limit).toFixed(1)} % of the SHA-NI limit)`;
  const k = (rate: number) => `${(rate / 1e3).toFixed(1)} k`;
  const extranonce1 = randomBytes(4);
  for (const branches of [0, 6, 12]) {
    const job = makeJob(branches);
    const prepared = prepareJob(job, extranonce1);
    const compressions = compressionsPerShare(job, 4, 8);
    console.log(
      `branches=${branches} (${compressions} compressions/share), checkShare shares/s on one core:`,
    );
    for (const backend of backends) {
      const shares = backend === jsSha256dBackend ? SHARES_PER_ROUND / 4 : SHARES_PER_ROUND;
      const { median, best } = fiveRounds(() => measure(prepared, 8, backend, shares));
      console.log(
        `  ${backend.name.padEnd(8)} wall: median ${k(median.wall)}, best ${k(best.wall)}${ofLimit(best.wall, compressions)}; ` +
          `per CPU-second: median ${k(median.cpu)}, best ${k(best.cpu)}${ofLimit(best.cpu, compressions)}`,
      );
    }
    const batch = fiveRounds(() => batchRate(prepared, 8, selected));
    console.log(
      `  ${selected.name} hashShares, ${BATCH} shares per call (the hashing alone): per CPU-second median ` +
        `${k(batch.median.cpu)}, best ${k(batch.best.cpu)}${ofLimit(batch.best.cpu, compressions)}`,
    );
  }
}

const BATCH = 1000;

/** hashShares over records already written, as `hashrelay audit` could call it: the hashing alone. */
function batchRate(prepared: PreparedJob, extranonce2Size: number, backend: Sha256dBackend): Rate {
  const stride = shareRecordStride(extranonce2Size);
  const records = new Uint8Array(stride * BATCH);
  for (let i = 0; i < BATCH; i++) {
    const extranonce2 = new Uint8Array(extranonce2Size);
    new DataView(extranonce2.buffer).setUint32(0, i);
    writeShareRecord(records, i * stride, {
      version: prepared.job.version,
      ntime: prepared.job.ntime,
      nonce: i,
      extranonce2,
    });
  }
  const out = new Uint8Array(SHARE_HASH_OUT_BYTES * BATCH);
  const rounds = SHARES_PER_ROUND / BATCH;
  return rateOf(rounds * BATCH, () => {
    for (let round = 0; round < rounds; round++) backend.hashShares(prepared.hashJob, records, stride, out);
  });
}
