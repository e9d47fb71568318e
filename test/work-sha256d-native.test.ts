import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import type { Job } from '../src/work/job.js';
import { checkShare, prepareJob } from '../src/work/share-check.js';
import { hashShareBatch } from '../src/work/share-hash-batch.js';
import type { Sha256dBackend } from '../src/work/sha256d-backend.js';
import { jsSha256dBackend } from '../src/work/sha256d-js.js';
import {
  loadSha256dAddon,
  nativeSha256dBackend,
  selectSha256dBackend,
  sha256dSelection,
  type Sha256dAddon,
} from '../src/work/sha256d-native.js';
import {
  SHARE_HASH_OUT_BYTES,
  prepareShareHashJob,
  shareRecordStride,
  writeShareRecord,
  type ShareHashInput,
} from '../src/work/share-hash-job.js';
import { toDifficulty, toJobId } from '../src/work/types.js';
import { REPO_ROOT } from './support/cli.js';
import { jobFromVector, readShareVector } from './support/vectors.js';

// The oracle is OpenSSL through createHash, and the header is laid out here from STRATUM.md with
// Buffer writes: nothing is shared with either backend.
function oracleSha256d(data: Uint8Array): Buffer {
  return createHash('sha256').update(createHash('sha256').update(data).digest()).digest();
}

interface OracleShareHash {
  readonly header: Buffer;
  readonly hash: Buffer;
  readonly txid: Buffer;
}

function oracleShareHash(job: Job, extranonce1: Uint8Array, share: ShareHashInput): OracleShareHash {
  const txid = oracleSha256d(Buffer.concat([job.coinb1, extranonce1, share.extranonce2, job.coinb2]));
  let root = txid;
  for (const branch of job.merkleBranch) root = oracleSha256d(Buffer.concat([root, branch]));
  const header = Buffer.alloc(80);
  header.writeUInt32LE(share.version, 0);
  for (let i = 0; i < 32; i += 4) header.writeUInt32LE(Buffer.from(job.prevhash).readUInt32BE(i), 4 + i);
  root.copy(header, 36);
  header.writeUInt32LE(share.ntime, 68);
  header.writeUInt32LE(job.nbits, 72);
  header.writeUInt32LE(share.nonce, 76);
  return { header, hash: oracleSha256d(header), txid };
}

/** The addon must build here: the toolchain is required (better-sqlite3 needs it too). */
function addon(): Sha256dAddon {
  const load = loadSha256dAddon();
  if ('problem' in load) throw new Error(`the native sha256d addon is unavailable: ${load.problem}`);
  return load.addon;
}

/** Every backend this machine runs: each native implementation the CPU has, then the JavaScript one. */
function backendsUnderTest(): { name: string; run: <T>(body: (backend: Sha256dBackend) => T) => T }[] {
  const native = addon();
  const names = ['sha-ni', 'armv8-sha2', 'portable'].filter((name) => {
    const runs = native.select(name);
    native.select('best');
    return runs;
  });
  return [
    ...names.map((name) => ({
      name,
      run: <T>(body: (backend: Sha256dBackend) => T): T => {
        native.select(name);
        try {
          return body(nativeSha256dBackend(native));
        } finally {
          native.select('best');
        }
      },
    })),
    { name: 'js', run: <T>(body: (backend: Sha256dBackend) => T): T => body(jsSha256dBackend) },
  ];
}

const BACKENDS = backendsUnderTest();

afterEach(() => {
  addon().select('best');
});

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const jobArbitrary = fc.record({
  prevhash: bytes(32, 32),
  coinb1: bytes(0, 200),
  extranonce1: bytes(0, 8),
  coinb2: bytes(0, 300),
  branches: fc.array(bytes(32, 32), { maxLength: 14 }),
  nbits: u32,
});
const shareArbitrary = fc.record({ version: u32, ntime: u32, nonce: u32, extranonce2: bytes(0, 16) });

function jobOf(drawn: {
  prevhash: Uint8Array;
  coinb1: Uint8Array;
  coinb2: Uint8Array;
  branches: Uint8Array[];
  nbits: number;
}): Job {
  return {
    jobId: toJobId('t'),
    prevhash: drawn.prevhash,
    coinb1: drawn.coinb1,
    coinb2: drawn.coinb2,
    merkleBranch: drawn.branches,
    version: 0x20000000,
    nbits: drawn.nbits,
    ntime: 0,
    cleanJobs: true,
  };
}

/** All of `shares` hashed by `backend` in one call, records `slack` bytes longer than needed. */
function hashBatch(
  backend: Sha256dBackend,
  job: Job,
  extranonce1: Uint8Array,
  shares: readonly ShareHashInput[],
  slack = 0,
): Uint8Array {
  const stride = shareRecordStride(Math.max(0, ...shares.map((share) => share.extranonce2.length)) + slack);
  const records = new Uint8Array(stride * shares.length);
  shares.forEach((share, i) => {
    writeShareRecord(records, i * stride, share);
  });
  const out = new Uint8Array(SHARE_HASH_OUT_BYTES * shares.length);
  backend.hashShares(prepareShareHashJob(job, extranonce1), records, stride, out);
  return out;
}

function expectShareHashes(out: Uint8Array, oracle: readonly OracleShareHash[]): void {
  oracle.forEach((expected, i) => {
    const at = SHARE_HASH_OUT_BYTES * i;
    expect(Buffer.from(out.subarray(at, at + 80)).toString('hex')).toBe(expected.header.toString('hex'));
    expect(Buffer.from(out.subarray(at + 80, at + 112)).toString('hex')).toBe(expected.hash.toString('hex'));
    expect(Buffer.from(out.subarray(at + 112, at + 144)).toString('hex')).toBe(expected.txid.toString('hex'));
  });
}

describe('the native addon', () => {
  test('loads here, picks the CPU’s SHA instructions where they exist, and is the process’s backend', () => {
    const native = addon();
    const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
    if (/^flags\s*:.*\bsha_ni\b/m.test(cpuinfo)) expect(native.implementation()).toBe('sha-ni');
    if (/^Features\s*:.*\bsha2\b/m.test(cpuinfo)) expect(native.implementation()).toBe('armv8-sha2');
    expect(native.select('portable')).toBe(true);
    expect(native.implementation()).toBe('portable');
    expect(native.select('no-such-thing')).toBe(false);
    expect(native.implementation()).toBe('portable');
    native.select('best');
    if (process.env.HASHRELAY_SHA256D !== 'js') {
      expect(sha256dSelection.fallbackReason).toBeNull();
      expect(sha256dSelection.backend.name).toBe(native.implementation());
    }
  });
});

describe.each(BACKENDS)('sha256d backend $name agrees with node:crypto', ({ run }) => {
  test('block 100000: coinbase txid, merkle root, header and block hash', () => {
    const v = readShareVector('block-100000.json');
    const job = jobFromVector(v);
    const share = {
      version: Number.parseInt(v.notify.version, 16),
      ntime: Number.parseInt(v.submit.ntime, 16),
      nonce: Number.parseInt(v.submit.nonce, 16),
      extranonce2: Buffer.from(v.submit.extranonce2, 'hex'),
    };
    const out = run((backend) => hashBatch(backend, job, Buffer.from(v.extranonce1, 'hex'), [share]));
    expect(Buffer.from(out.subarray(0, 80)).toString('hex')).toBe(v.expect.header);
    expect(Buffer.from(out.subarray(36, 68)).toString('hex')).toBe(v.expect.merkle_root_internal);
    expect(Buffer.from(out.subarray(80, 112)).reverse().toString('hex')).toBe(v.expect.block_hash_display);
    expect(Buffer.from(out.subarray(112, 144)).reverse().toString('hex')).toBe(
      v.expect.coinbase_txid_display,
    );
  });

  test('sha256d of messages of every length around the padding boundaries, and random ones', () => {
    run((backend) => {
      for (let length = 0; length <= 200; length++) {
        const message = Uint8Array.from({ length }, (_, i) => (i * 31 + length) & 0xff);
        const out = new Uint8Array(32);
        backend.sha256d(message, out);
        expect(Buffer.from(out).toString('hex'), `length ${length}`).toBe(
          oracleSha256d(message).toString('hex'),
        );
      }
      fc.assert(
        fc.property(bytes(0, 1000), (message) => {
          const out = new Uint8Array(32);
          backend.sha256d(message, out);
          expect(Buffer.from(out).equals(oracleSha256d(message))).toBe(true);
        }),
        { numRuns: 200 },
      );
    });
  });

  test('sha256dEach: merkle nodes (64 bytes), headers (80) and other lengths, many per call', () => {
    run((backend) => {
      fc.assert(
        fc.property(
          fc.constantFrom(64, 80, 1, 32, 55, 56, 119, 128),
          fc.integer({ min: 0, max: 6 }),
          fc.integer(),
          (length, count, seed) => {
            const messages = Uint8Array.from({ length: length * count }, (_, i) => (i * 97 + seed) & 0xff);
            const out = new Uint8Array(32 * count);
            backend.sha256dEach(messages, length, out);
            for (let i = 0; i < count; i++) {
              const expected = oracleSha256d(messages.subarray(i * length, (i + 1) * length));
              expect(
                Buffer.from(out.subarray(32 * i, 32 * i + 32)).equals(expected),
                `message ${i} of ${length} bytes`,
              ).toBe(true);
            }
          },
        ),
        { numRuns: 200 },
      );
    });
  });

  test('hashShares on random jobs and shares, one or many per call, records with slack', () => {
    run((backend) => {
      fc.assert(
        fc.property(
          jobArbitrary,
          fc.array(shareArbitrary, { minLength: 1, maxLength: 5 }),
          fc.nat(7),
          (drawn, shares, slack) => {
            const job = jobOf(drawn);
            const out = hashBatch(backend, job, drawn.extranonce1, shares, slack);
            expectShareHashes(
              out,
              shares.map((share) => oracleShareHash(job, drawn.extranonce1, share)),
            );
          },
        ),
        { numRuns: 150 },
      );
    });
  });

  test('coinbases that end on and around every block boundary', () => {
    run((backend) => {
      for (let coinb2Length = 0; coinb2Length <= 130; coinb2Length++) {
        const job = jobOf({
          prevhash: new Uint8Array(32).fill(1),
          coinb1: new Uint8Array(41).fill(2),
          coinb2: new Uint8Array(coinb2Length).fill(3),
          branches: [new Uint8Array(32).fill(4)],
          nbits: 0x1d00ffff,
        });
        const share = {
          version: 0x20000000,
          ntime: 1,
          nonce: coinb2Length,
          extranonce2: new Uint8Array(8).fill(5),
        };
        const out = hashBatch(backend, job, new Uint8Array(4).fill(6), [share]);
        expectShareHashes(out, [oracleShareHash(job, new Uint8Array(4).fill(6), share)]);
      }
    });
  });

  test('refuses malformed batches with the same errors', () => {
    run((backend) => {
      const job = prepareShareHashJob(
        jobOf({
          prevhash: new Uint8Array(32),
          coinb1: new Uint8Array(10),
          coinb2: new Uint8Array(10),
          branches: [],
          nbits: 0,
        }),
        new Uint8Array(4),
      );
      expect(() => {
        backend.hashShares(job, new Uint8Array(24), 8, new Uint8Array(144 * 3));
      }).toThrow('stride must be at least 16 bytes');
      expect(() => {
        backend.hashShares(job, new Uint8Array(25), 24, new Uint8Array(144));
      }).toThrow('whole number of stride-byte records');
      expect(() => {
        backend.hashShares(job, new Uint8Array(48), 24, new Uint8Array(144));
      }).toThrow('out must be 144 bytes per share');
      const overlong = new Uint8Array(24);
      overlong[12] = 9; // extranonce2 length 9 in a record with room for 8
      expect(() => {
        backend.hashShares(job, overlong, 24, new Uint8Array(144));
      }).toThrow('runs past its stride');
      expect(() => {
        backend.sha256dEach(new Uint8Array(10), 0, new Uint8Array(0));
      }).toThrow('messageLength must be positive');
      expect(() => {
        backend.sha256dEach(new Uint8Array(10), 3, new Uint8Array(96));
      }).toThrow('whole number of messageLength-byte messages');
      expect(() => {
        backend.sha256d(new Uint8Array(10), new Uint8Array(31));
      }).toThrow('out must be 32 bytes');
    });
  });
});

describe('checkShare on each backend', () => {
  test('the same verdict and work from every backend for random shares', () => {
    fc.assert(
      fc.property(jobArbitrary, shareArbitrary, (drawn, share) => {
        const job = { ...jobOf(drawn), nbits: 0x1d00ffff, ntime: share.ntime };
        const prepared = prepareJob(job, drawn.extranonce1);
        const input = {
          job: prepared,
          extranonce2Size: share.extranonce2.length,
          submission: {
            extranonce2: share.extranonce2,
            ntime: share.ntime,
            nonce: share.nonce,
            versionBits: share.version,
          },
          versionMask: 0xffffffff,
          assignedDifficulty: toDifficulty(2 ** -32),
        };
        const verdicts = BACKENDS.map(({ run }) => run((backend) => checkShare(input, backend)));
        const oracle = oracleShareHash(job, drawn.extranonce1, share);
        for (const verdict of verdicts) {
          expect(verdict.valid).toBe(true);
          expect(Buffer.from(verdict.work!.hash).equals(oracle.hash)).toBe(true);
          expect(verdict).toEqual(verdicts[0]);
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('HASHRELAY_SHA256D', () => {
  test('js forces the JavaScript backend, native demands the addon, anything else is refused', () => {
    expect(selectSha256dBackend('js')).toEqual({
      backend: jsSha256dBackend,
      fallbackReason: 'HASHRELAY_SHA256D=js',
    });
    expect(selectSha256dBackend('native').backend.name).toBe(addon().implementation());
    expect(selectSha256dBackend(undefined).backend.name).toBe(addon().implementation());
    expect(() => selectSha256dBackend('fast')).toThrow(
      /HASHRELAY_SHA256D is "fast": set it to auto, native or js/,
    );
  });

  test('the built CLI’s modules honour it at start-up', () => {
    const backendOf = (choice: string | undefined): string => {
      const env = { ...process.env };
      if (choice === undefined) delete env.HASHRELAY_SHA256D;
      else env.HASHRELAY_SHA256D = choice;
      const result = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          "const m = await import('./dist/src/work/sha256d-native.js'); console.log(m.sha256dSelection.backend.name);",
        ],
        { cwd: REPO_ROOT, env, encoding: 'utf8' },
      );
      expect(result.status, result.stderr).toBe(0);
      return result.stdout.trim();
    };
    expect(backendOf('js')).toBe('js');
    expect(backendOf(undefined)).toBe(addon().implementation());
  });
});

describe('hashShareBatch (for the audit)', () => {
  test('every header hash of many shares of one job, in one call, on every backend', () => {
    fc.assert(
      fc.property(jobArbitrary, fc.array(shareArbitrary, { maxLength: 20 }), (drawn, shares) => {
        const job = { ...jobOf(drawn), nbits: 0x1d00ffff };
        const prepared = prepareJob(job, drawn.extranonce1);
        for (const { run } of BACKENDS) {
          const hashes = run((backend) => hashShareBatch(prepared, shares, backend));
          expect(hashes.length).toBe(32 * shares.length);
          shares.forEach((share, i) => {
            const expected = oracleShareHash(job, drawn.extranonce1, share).hash;
            expect(Buffer.from(hashes.subarray(32 * i, 32 * i + 32)).equals(expected)).toBe(true);
          });
        }
      }),
      { numRuns: 60 },
    );
  });
});
