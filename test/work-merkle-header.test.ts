import { Block, Transaction } from 'bitcoinjs-lib';
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { buildHeader, swapPrevhashWords } from '../src/work/header.js';
import {
  merkleBranchesForCoinbase,
  merkleRootFromBranches,
  merkleRootFromTxids,
} from '../src/work/merkle.js';
import { rollVersion, negotiateVersionMask } from '../src/work/version-rolling.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const display = (internal: Uint8Array) => Buffer.from(internal).reverse().toString('hex');
const sha256d = (data: Uint8Array) =>
  createHash('sha256').update(createHash('sha256').update(data).digest()).digest();

function randomTx(): Transaction {
  const tx = new Transaction();
  tx.addInput(randomBytes(32), 1);
  tx.addOutput(randomBytes(22), 1000n);
  return tx;
}

describe('merkle', () => {
  test('branches rebuild bitcoinjs merkle roots for 1 to 40 transactions', () => {
    for (let count = 1; count <= 40; count++) {
      const txs = Array.from({ length: count }, randomTx);
      const txids = txs.map((tx) => tx.getHash());
      const branches = merkleBranchesForCoinbase(txids.slice(1));
      expect(branches.length).toBe(Math.ceil(Math.log2(count)));
      const root = merkleRootFromBranches(txids[0]!, branches);
      expect(display(root), `${count} transactions`).toBe(display(Block.calculateMerkleRoot(txs)));
      expect(display(merkleRootFromTxids(txids))).toBe(display(root));
    }
  });

  test('block 100000: txids and branches give the published merkle root', () => {
    // Mainnet block 100000's four txids (display order), public chain data.
    const txids = [
      '8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87',
      'fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4',
      '6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4',
      'e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d',
    ].map((id) => Uint8Array.from(hex(id)).reverse());
    const branches = merkleBranchesForCoinbase(txids.slice(1));
    expect(branches.map((b) => Buffer.from(b).toString('hex'))).toEqual([
      'c40297f730dd7b5a99567eb8d27b78758f607507c52292d02d4031895b52f2ff',
      '49aef42d78e3e9999c9e6ec9e1dddd6cb880bf3b076a03be1318ca789089308e',
    ]);
    expect(display(merkleRootFromTxids(txids))).toBe(
      'f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766',
    );
  });

  test('a block with only a coinbase has no branches and its root is the txid', () => {
    const txid = randomBytes(32);
    expect(merkleBranchesForCoinbase([])).toEqual([]);
    expect(merkleRootFromBranches(txid, [])).toEqual(txid);
  });
});

describe('header', () => {
  test('block 125552 (the Bitcoin wiki hashing example) from its fields', () => {
    const prevInternal = hex('00000000000008a3a41b85b8b29ad444def299fee21793cd8b9e567eab02cd81').reverse();
    const header = buildHeader({
      version: 1,
      prevhash: swapPrevhashWords(prevInternal),
      merkleRoot: hex('2b12fcf1b09288fcaff797d71e950e71ae42b91e8bdb2304758dfcffc2b620e3').reverse(),
      ntime: 1305998791,
      nbits: 0x1a44b9f2,
      nonce: 2504433986,
    });
    expect(display(sha256d(header))).toBe('00000000000000001e8d6829a8a21adc5d38d0a473b144b6765798e61f98bd1d');
    expect(Block.fromBuffer(header).getId()).toBe(
      '00000000000000001e8d6829a8a21adc5d38d0a473b144b6765798e61f98bd1d',
    );
  });

  test('prevhash word swap is its own inverse and matches Buffer.swap32', () => {
    const prev = randomBytes(32);
    expect(swapPrevhashWords(swapPrevhashWords(prev))).toEqual(Uint8Array.from(prev));
    expect(swapPrevhashWords(prev)).toEqual(Uint8Array.from(Buffer.from(prev).swap32()));
    expect(() => swapPrevhashWords(new Uint8Array(31))).toThrow(/32 bytes/);
  });
});

describe('version rolling (BIP 310)', () => {
  const mask = 0x1fffe000;
  test('rolled bits replace the masked bits of the job version', () => {
    expect(rollVersion(0x20000000, mask, 0x00ab6000)).toEqual({ ok: true, version: 0x20ab6000 });
  });
  test('a miner that sends the full rolled version gets the same version', () => {
    expect(rollVersion(0x20000000, mask, 0x20ab6000)).toEqual({ ok: true, version: 0x20ab6000 });
  });
  test('XOR would differ: bits set in both the job and the submit stay set', () => {
    expect(rollVersion(0x20002000, mask, 0x00002000)).toEqual({ ok: true, version: 0x20002000 });
  });
  test('bits outside the mask are refused', () => {
    expect(rollVersion(0x20000000, mask, 0x00000001)).toEqual({ ok: false, stray: 0x00000001 });
    expect(rollVersion(0x20000000, mask, 0x40000000)).toEqual({ ok: false, stray: 0x40000000 });
    expect(rollVersion(0x20000000, 0, 0x00ab6000)).toEqual({ ok: false, stray: 0x00ab6000 });
  });
  test('the negotiated mask is the intersection', () => {
    expect(negotiateVersionMask(0xffffffff, mask)).toBe(mask);
    expect(negotiateVersionMask(0x1fffe000, 0x00fff000)).toBe(0x00ffe000);
  });
});
