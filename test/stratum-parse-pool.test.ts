import { describe, expect, it } from 'vitest';
import { JsonRpcErrorCode, StratumParseError } from '../src/stratum/errors.js';
import type { PoolMessage } from '../src/stratum/messages.js';
import { parsePoolMessage } from '../src/stratum/parse.js';
import { decodeBooleanResult, decodeConfigureResult, decodeSubscribeResult } from '../src/stratum/results.js';
import { jobFromVector, readShareVector } from './support/vectors.js';

const vector = readShareVector('block-100000.json');
const { notify } = vector;
const notifyParams = [
  notify.job_id,
  notify.prevhash,
  notify.coinb1,
  notify.coinb2,
  notify.merkle_branch,
  notify.version,
  notify.nbits,
  notify.ntime,
  notify.clean_jobs,
];

function accepted(line: string): PoolMessage {
  const result = parsePoolMessage(line);
  if (!result.ok) throw new Error(`expected ${line} to parse, got: ${result.error.message}`);
  return result.message;
}

function rejected(line: string): StratumParseError {
  const result = parsePoolMessage(line);
  if (result.ok) throw new Error(`expected ${line} to be rejected`);
  expect(result.error).toBeInstanceOf(StratumParseError);
  return result.error;
}

const notifyWith = (index: number, value: unknown, id: number | null = null): string =>
  JSON.stringify({
    id,
    method: 'mining.notify',
    params: notifyParams.map((param, i) => (i === index ? value : param)),
  });

describe('parsePoolMessage: mining.notify', () => {
  it('reads the block 100000 job', () => {
    expect(accepted(JSON.stringify({ id: null, method: 'mining.notify', params: notifyParams }))).toEqual({
      kind: 'mining.notify',
      id: null,
      job: jobFromVector(vector),
    });
  });

  it('accepts an empty merkle branch (a block with only the coinbase)', () => {
    expect(accepted(notifyWith(4, []))).toMatchObject({ job: { merkleBranch: [] } });
  });

  it('rejects wrong arity', () => {
    const error = rejected(
      JSON.stringify({ id: 3, method: 'mining.notify', params: notifyParams.slice(0, 8) }),
    );
    expect(error).toMatchObject({ id: 3, code: JsonRpcErrorCode.invalidParams });
    expect(error.message).toBe(
      'mining.notify: expected 9 params [job_id, prevhash, coinb1, coinb2, merkle_branch, version, nbits, ntime, clean_jobs], got 8',
    );
  });

  it('rejects wrong types and bad hex, naming the parameter', () => {
    expect(rejected(notifyWith(1, notify.prevhash.slice(2), 4))).toMatchObject({
      id: 4,
      message: expect.stringMatching(
        /^mining\.notify: param 1 \(prevhash\) must be 64 hex characters, got "/,
      ) as string,
    });
    expect(rejected(notifyWith(4, [notify.merkle_branch[0], 'zz'])).message).toBe(
      'mining.notify: param 4 (merkle_branch) entry 1 must be 64 hex characters, got "zz"',
    );
    expect(rejected(notifyWith(4, notify.merkle_branch[0])).message).toMatch(
      /^mining\.notify: param 4 \(merkle_branch\) must be an array/,
    );
    expect(rejected(notifyWith(5, 1)).message).toBe(
      'mining.notify: param 5 (version) must be a string of 8 hex characters, got 1',
    );
    expect(rejected(notifyWith(8, 'true')).message).toBe(
      'mining.notify: param 8 (clean_jobs) must be true or false, got "true"',
    );
    expect(rejected(notifyWith(2, '0')).message).toBe(
      'mining.notify: param 2 (coinb1) must have an even number of hex characters, got 1',
    );
    expect(rejected(notifyWith(0, 7)).message).toBe(
      'mining.notify: param 0 (job_id) must be a string, got 7',
    );
  });

  it('bounds coinbase parts and merkle depth', () => {
    expect(accepted(notifyWith(3, '00'.repeat(100_000)))).toMatchObject({ kind: 'mining.notify' });
    expect(rejected(notifyWith(3, '00'.repeat(100_001))).message).toBe(
      'mining.notify: param 3 (coinb2) must be 0 to 100000 bytes of hex, got 100001 bytes',
    );
    const branch = notify.merkle_branch[0] ?? '';
    expect(accepted(notifyWith(4, Array<string>(32).fill(branch)))).toMatchObject({ kind: 'mining.notify' });
    expect(rejected(notifyWith(4, Array<string>(33).fill(branch))).message).toBe(
      'mining.notify: param 4 (merkle_branch) must have at most 32 entries, got 33',
    );
  });
});

describe('parsePoolMessage: other notifications and requests', () => {
  it('reads mining.set_difficulty', () => {
    expect(accepted('{"id":null,"method":"mining.set_difficulty","params":[16384]}')).toEqual({
      kind: 'mining.set_difficulty',
      id: null,
      difficulty: 16384,
    });
    expect(accepted('{"id":null,"method":"mining.set_difficulty","params":[0.001]}')).toMatchObject({
      difficulty: 0.001,
    });
    expect(rejected('{"id":null,"method":"mining.set_difficulty","params":[0]}').message).toBe(
      'mining.set_difficulty: param 0 (difficulty) must be a positive number, got 0',
    );
    expect(rejected('{"id":null,"method":"mining.set_difficulty","params":[]}').message).toBe(
      'mining.set_difficulty: expected 1 params [difficulty], got 0',
    );
  });

  it('reads mining.set_version_mask', () => {
    expect(accepted('{"id":null,"method":"mining.set_version_mask","params":["1fffe000"]}')).toEqual({
      kind: 'mining.set_version_mask',
      id: null,
      mask: 0x1fffe000,
    });
    expect(rejected('{"id":null,"method":"mining.set_version_mask","params":["1fffe"]}').message).toBe(
      'mining.set_version_mask: param 0 (mask) must be 8 hex characters, got "1fffe"',
    );
  });

  it('reads mining.set_extranonce', () => {
    expect(accepted('{"id":null,"method":"mining.set_extranonce","params":["f8002c90",4]}')).toEqual({
      kind: 'mining.set_extranonce',
      id: null,
      extranonce1: Uint8Array.of(0xf8, 0x00, 0x2c, 0x90),
      extranonce2Size: 4,
    });
    expect(rejected('{"id":null,"method":"mining.set_extranonce","params":["f8002c90",17]}').message).toBe(
      'mining.set_extranonce: param 1 (extranonce2_size) must be an integer from 0 to 16, got 17',
    );
    expect(
      rejected('{"id":null,"method":"mining.set_extranonce","params":["f8002c90",4.5]}').message,
    ).toMatch(/param 1 \(extranonce2_size\) must be an integer/);
    expect(rejected('{"id":null,"method":"mining.set_extranonce","params":["f8002c9",4]}').message).toMatch(
      /^mining\.set_extranonce: param 0 \(extranonce1\) must have an even number/,
    );
  });

  it('reads client.reconnect with and without a target', () => {
    expect(accepted('{"id":null,"method":"client.reconnect","params":[]}')).toEqual({
      kind: 'client.reconnect',
      id: null,
      target: undefined,
    });
    expect(
      accepted('{"id":null,"method":"client.reconnect","params":["eu.pool.example.com",3333,5]}'),
    ).toEqual({
      kind: 'client.reconnect',
      id: null,
      target: { host: 'eu.pool.example.com', port: 3333, waitSeconds: 5 },
    });
    expect(accepted('{"id":null,"method":"client.reconnect","params":["10.0.0.2","3334"]}')).toMatchObject({
      target: { host: '10.0.0.2', port: 3334, waitSeconds: undefined },
    });
  });

  it('rejects a reconnect with a bad port or a host alone', () => {
    expect(rejected('{"id":null,"method":"client.reconnect","params":["h",70000]}').message).toBe(
      'client.reconnect: param 1 (port) must be an integer from 1 to 65535, got 70000',
    );
    expect(rejected('{"id":null,"method":"client.reconnect","params":["h","33a"]}').message).toMatch(
      /param 1 \(port\) must be an integer/,
    );
    expect(rejected('{"id":null,"method":"client.reconnect","params":["h"]}').message).toBe(
      'client.reconnect: param 1 (port) is required when a host is given',
    );
    expect(rejected('{"id":null,"method":"client.reconnect","params":["",3333]}').message).toBe(
      'client.reconnect: param 0 (host) must not be empty',
    );
    expect(rejected('{"id":null,"method":"client.reconnect","params":["h",3333,-1]}').message).toMatch(
      /param 2 \(wait\) must be an integer from 0/,
    );
  });

  it('reads client.show_message, client.get_version and mining.ping', () => {
    expect(
      accepted(
        '{"id":null,"method":"client.show_message","params":["Maintenance at 14:00 UTC, back by 14:30"]}',
      ),
    ).toEqual({ kind: 'client.show_message', id: null, text: 'Maintenance at 14:00 UTC, back by 14:30' });
    expect(accepted('{"id":4,"method":"client.get_version","params":[]}')).toEqual({
      kind: 'client.get_version',
      id: 4,
    });
    expect(accepted('{"id":"p1","method":"mining.ping","params":[]}')).toEqual({
      kind: 'mining.ping',
      id: 'p1',
    });
    expect(rejected('{"id":null,"method":"client.show_message","params":[42]}').message).toBe(
      'client.show_message: param 0 (message) must be a string, got 42',
    );
  });

  it('turns unknown pool methods into unknown requests', () => {
    expect(accepted('{"id":null,"method":"mining.set_goal","params":["x"]}')).toEqual({
      kind: 'unknown',
      id: null,
      method: 'mining.set_goal',
    });
    expect(accepted('{"id":1,"method":"mining.submit","params":[]}')).toMatchObject({ kind: 'unknown' });
  });
});

describe('parsePoolMessage: responses', () => {
  it('reads a successful response', () => {
    expect(accepted('{"id":2,"result":true,"error":null}')).toEqual({
      kind: 'response',
      id: 2,
      result: true,
      error: null,
    });
  });

  it('reads Stratum-style and JSON-RPC 2.0 errors', () => {
    expect(accepted('{"id":4,"result":null,"error":[21,"Job not found",null]}')).toEqual({
      kind: 'response',
      id: 4,
      result: null,
      error: { code: 21, message: 'Job not found' },
    });
    expect(
      accepted('{"id":4,"result":false,"error":[23,"Low difficulty share","Traceback ..."]}'),
    ).toMatchObject({
      result: false,
      error: { code: 23, message: 'Low difficulty share' },
    });
    expect(accepted('{"jsonrpc":"2.0","id":4,"error":{"code":-32601,"message":"Method not found"}}')).toEqual(
      {
        kind: 'response',
        id: 4,
        result: null,
        error: { code: -32601, message: 'Method not found' },
      },
    );
  });

  it('reads a bare string error (ckpool: "Above target", "Stale") as code 20 with its words', () => {
    expect(accepted('{"id":4,"result":false,"error":"Above target"}')).toMatchObject({
      result: false,
      error: { code: 20, message: 'Above target' },
    });
  });

  it('rejects malformed errors, keeping the id', () => {
    for (const error of ['[21]', '["21","x",null]', '{"code":21}', '[21,null,null]']) {
      const parseError = rejected(`{"id":4,"result":null,"error":${error}}`);
      expect(parseError).toMatchObject({ id: 4, code: JsonRpcErrorCode.invalidRequest });
      expect(parseError.message).toMatch(/^response "error"/);
    }
  });
});

describe('result decoders', () => {
  it('decodes a subscribe result with nested subscriptions', () => {
    const result: unknown = JSON.parse(
      '[[["mining.set_difficulty","b4b6693b72a50c7116db18d6497cac52"],["mining.notify","ae6812eb4cd7735a302a8a9dd95cf71f"]],"08000002",4]',
    );
    expect(decodeSubscribeResult(result, 1)).toEqual({
      ok: true,
      value: {
        subscriptions: [
          ['mining.set_difficulty', 'b4b6693b72a50c7116db18d6497cac52'],
          ['mining.notify', 'ae6812eb4cd7735a302a8a9dd95cf71f'],
        ],
        extranonce1: Uint8Array.of(0x08, 0x00, 0x00, 0x02),
        extranonce2Size: 4,
      },
    });
  });

  it('decodes a flat subscription pair and ignores odd subscription entries', () => {
    expect(decodeSubscribeResult([['mining.notify', 'abc'], '00', 8])).toMatchObject({
      ok: true,
      value: { subscriptions: [['mining.notify', 'abc']] },
    });
    expect(decodeSubscribeResult([[['mining.notify'], 5, ['a', 'b'], null], 'ab', 8])).toMatchObject({
      ok: true,
      value: { subscriptions: [['a', 'b']] },
    });
    expect(decodeSubscribeResult([[], '', 0])).toMatchObject({ ok: true, value: { subscriptions: [] } });
  });

  it('rejects a malformed subscribe result, naming the item', () => {
    const check = (result: unknown, message: string): void => {
      const decoded = decodeSubscribeResult(result, 7);
      expect(decoded.ok).toBe(false);
      if (!decoded.ok) {
        expect(decoded.error).toBeInstanceOf(StratumParseError);
        expect(decoded.error).toMatchObject({ id: 7, code: JsonRpcErrorCode.invalidParams, message });
      }
    };
    check(null, 'mining.subscribe result must be an array, got null');
    check(
      [[], '00'],
      'mining.subscribe result must be [subscriptions, extranonce1, extranonce2_size], got an array of 2',
    );
    check(['x', '00', 4], 'mining.subscribe result item 0 (subscriptions) must be an array, got "x"');
    check(
      [[], '0g', 4],
      'mining.subscribe result item 1 (extranonce1) must be hex, got "0g" ("g" at position 1 is not a hex digit)',
    );
    check(
      [[], '00', 17],
      'mining.subscribe result item 2 (extranonce2_size) must be an integer from 0 to 16, got 17',
    );
  });

  it('decodes a configure result', () => {
    const result: unknown = JSON.parse(
      '{"version-rolling":true,"version-rolling.mask":"1fffe000","minimum-difficulty":true,"subscribe-extranonce":"not supported","info":false}',
    );
    expect(decodeConfigureResult(result)).toEqual({
      ok: true,
      value: {
        accepted: new Map([
          ['version-rolling', true],
          ['minimum-difficulty', true],
          ['subscribe-extranonce', false],
          ['info', false],
        ]),
        versionRollingMask: 0x1fffe000,
      },
    });
    expect(decodeConfigureResult({ 'version-rolling': false })).toEqual({
      ok: true,
      value: { accepted: new Map([['version-rolling', false]]), versionRollingMask: undefined },
    });
  });

  it('rejects a configure result granting version rolling without a mask, or with a bad one', () => {
    expect(decodeConfigureResult({ 'version-rolling': true }, 3)).toMatchObject({
      ok: false,
      error: {
        id: 3,
        message: 'mining.configure result "version-rolling.mask" is required when "version-rolling" is true',
      },
    });
    expect(decodeConfigureResult({ 'version-rolling': true, 'version-rolling.mask': 'fff' })).toMatchObject({
      ok: false,
      error: {
        message: 'mining.configure result "version-rolling.mask" must be 8 hex characters, got "fff"',
      },
    });
    expect(decodeConfigureResult([true])).toMatchObject({ ok: false });
  });

  it('decodes boolean results', () => {
    expect(decodeBooleanResult(true)).toEqual({ ok: true, value: true });
    expect(decodeBooleanResult(false)).toEqual({ ok: true, value: false });
    expect(decodeBooleanResult(null)).toEqual({ ok: true, value: false });
    const decoded = decodeBooleanResult(1, 9);
    expect(decoded).toMatchObject({
      ok: false,
      error: { id: 9, message: 'result must be true, false or null, got 1' },
    });
  });
});
