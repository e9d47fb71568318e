import { describe, expect, it } from 'vitest';
import { JsonRpcErrorCode, StratumParseError, SubmitErrorCode } from '../src/stratum/errors.js';
import type { Job } from '../src/work/job.js';
import { parseMinerMessage, parsePoolMessage } from '../src/stratum/parse.js';
import { decodeConfigureResult, decodeSubscribeResult } from '../src/stratum/results.js';
import {
  encodeConfigureResult,
  encodeSubscribeResult,
  serializeError,
  serializeMinerRequest,
  serializeNotify,
  serializeParseError,
  serializePoolRequest,
  serializeResponse,
  serializeResult,
} from '../src/stratum/serialize.js';
import { toDifficulty, toJobId } from '../src/work/types.js';
import { jobFromVector, readShareVector } from './support/vectors.js';

const vector = readShareVector('block-100000.json');
const { notify } = vector;

const job: Job = jobFromVector(vector);

describe('serialisation on the wire', () => {
  it('writes mining.notify as one buffer with the vector’s exact hex', () => {
    const buffer = serializeNotify(job);
    expect(Buffer.isBuffer(buffer)).toBe(true);
    const expected = {
      id: null,
      method: 'mining.notify',
      params: [
        notify['job_id'],
        notify['prevhash'],
        notify['coinb1'],
        notify['coinb2'],
        notify['merkle_branch'],
        notify['version'],
        notify['nbits'],
        notify['ntime'],
        notify['clean_jobs'],
      ],
    };
    expect(buffer.toString('utf8')).toBe(`${JSON.stringify(expected)}\n`);
    expect(serializePoolRequest({ kind: 'mining.notify', id: null, job })).toBe(buffer.toString('utf8'));
  });

  it('refuses to write a job whose hashes have the wrong size', () => {
    expect(() => serializeNotify({ ...job, prevhash: new Uint8Array(31) })).toThrow(
      /prevhash must be 32 bytes/,
    );
    expect(() => serializeNotify({ ...job, merkleBranch: [new Uint8Array(33)] })).toThrow(/merkle branch 0/);
  });

  it('writes hex lowercase, u32 as 8 characters and difficulty as a number', () => {
    const line = serializeMinerRequest({
      kind: 'mining.submit',
      id: 5,
      worker: 'farm.worker1',
      jobId: toJobId('1'),
      extranonce2: Uint8Array.of(0xab, 0x02),
      ntime: 0x4d1b2237,
      nonce: 0x0a,
      versionBits: 0x1fffe000,
    });
    expect(line).toBe(
      '{"id":5,"method":"mining.submit","params":["farm.worker1","1","ab02","4d1b2237","0000000a","1fffe000"]}\n',
    );
    expect(
      serializePoolRequest({ kind: 'mining.set_difficulty', id: null, difficulty: toDifficulty(2048) }),
    ).toBe('{"id":null,"method":"mining.set_difficulty","params":[2048]}\n');
    expect(serializePoolRequest({ kind: 'mining.set_version_mask', id: null, mask: 0x1fffe000 })).toBe(
      '{"id":null,"method":"mining.set_version_mask","params":["1fffe000"]}\n',
    );
  });

  it('writes a submit without version bits as five params', () => {
    const line = serializeMinerRequest({
      kind: 'mining.submit',
      id: 6,
      worker: 'w',
      jobId: toJobId('j'),
      extranonce2: Uint8Array.of(2),
      ntime: 1,
      nonce: 2,
      versionBits: undefined,
    });
    expect(JSON.parse(line)).toEqual({
      id: 6,
      method: 'mining.submit',
      params: ['w', 'j', '02', '00000001', '00000002'],
    });
  });

  it('writes the configure request a proxy sends upstream', () => {
    const line = serializeMinerRequest({
      kind: 'mining.configure',
      id: 1,
      extensions: ['version-rolling'],
      versionRollingMask: 0xffffffff,
      versionRollingMinBitCount: 2,
      minimumDifficulty: undefined,
      info: new Map(),
    });
    expect(line).toBe(
      '{"id":1,"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"ffffffff","version-rolling.min-bit-count":2}]}\n',
    );
  });

  it('writes subscribe params without trailing absent values', () => {
    const subscribe = (userAgent: string | undefined, sessionId: string | undefined): unknown =>
      (
        JSON.parse(serializeMinerRequest({ kind: 'mining.subscribe', id: 1, userAgent, sessionId })) as {
          params: unknown;
        }
      ).params;
    expect(subscribe(undefined, undefined)).toEqual([]);
    expect(subscribe('hashrelay/0.1.0', undefined)).toEqual(['hashrelay/0.1.0']);
    expect(subscribe(undefined, 'abc')).toEqual([null, 'abc']);
  });

  it('writes client.reconnect with and without a target', () => {
    expect(serializePoolRequest({ kind: 'client.reconnect', id: null, target: undefined })).toBe(
      '{"id":null,"method":"client.reconnect","params":[]}\n',
    );
    expect(
      serializePoolRequest({
        kind: 'client.reconnect',
        id: null,
        target: { host: 'pool.example.com', port: 3333, waitSeconds: 0 },
      }),
    ).toBe('{"id":null,"method":"client.reconnect","params":["pool.example.com",3333,0]}\n');
  });

  it('writes results and Stratum-style errors', () => {
    expect(serializeResult(2, true)).toBe('{"id":2,"result":true,"error":null}\n');
    expect(serializeError(4, SubmitErrorCode.jobNotFound, 'Job not found')).toBe(
      '{"id":4,"result":null,"error":[21,"Job not found",null]}\n',
    );
    expect(
      serializeResponse({
        kind: 'response',
        id: 'x',
        result: false,
        error: { code: 23, message: 'Low difficulty' },
      }),
    ).toBe('{"id":"x","result":false,"error":[23,"Low difficulty",null]}\n');
  });

  it('answers a rejected line with its id, code and message', () => {
    const result = parseMinerMessage(
      '{"id":77,"method":"mining.submit","params":["w","j","00","12345","00000000"]}',
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(serializeParseError(result.error)).toBe(
      '{"id":77,"result":null,"error":[-32602,"mining.submit: param 3 (ntime) must be 8 hex characters, got \\"12345\\"",null]}\n',
    );
    const line = serializeParseError(
      new StratumParseError(null, JsonRpcErrorCode.parseError, 'line is not valid JSON'),
    );
    expect(parsePoolMessage(line)).toEqual({
      ok: true,
      message: {
        kind: 'response',
        id: null,
        result: null,
        error: { code: -32700, message: 'line is not valid JSON' },
      },
    });
  });

  it('encodes subscribe and configure results that decode back', () => {
    const subscribe = {
      subscriptions: [
        ['mining.set_difficulty', 'ae68'],
        ['mining.notify', 'ae68'],
      ] as const,
      extranonce1: Uint8Array.of(0x08, 0, 0, 2),
      extranonce2Size: 4,
    };
    expect(encodeSubscribeResult(subscribe)).toEqual([
      [
        ['mining.set_difficulty', 'ae68'],
        ['mining.notify', 'ae68'],
      ],
      '08000002',
      4,
    ]);
    expect(decodeSubscribeResult(encodeSubscribeResult(subscribe))).toEqual({ ok: true, value: subscribe });

    const configure = {
      accepted: new Map([
        ['version-rolling', true],
        ['minimum-difficulty', true],
        ['x-unknown', false],
      ]),
      versionRollingMask: 0x1fffe000,
    };
    expect(encodeConfigureResult(configure)).toEqual({
      'version-rolling': true,
      'minimum-difficulty': true,
      'x-unknown': false,
      'version-rolling.mask': '1fffe000',
    });
    expect(decodeConfigureResult(encodeConfigureResult(configure))).toEqual({ ok: true, value: configure });
  });
});
