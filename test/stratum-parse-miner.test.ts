import { describe, expect, it } from 'vitest';
import { JsonRpcErrorCode, StratumParseError } from '../src/stratum/errors.js';
import type { MinerMessage } from '../src/stratum/messages.js';
import { parseMinerMessage } from '../src/stratum/parse.js';

function accepted(line: string): MinerMessage {
  const result = parseMinerMessage(line);
  if (!result.ok) throw new Error(`expected ${line} to parse, got: ${result.error.message}`);
  return result.message;
}

function rejected(line: string): StratumParseError {
  const result = parseMinerMessage(line);
  if (result.ok) throw new Error(`expected ${line} to be rejected, got ${JSON.stringify(result.message)}`);
  expect(result.error).toBeInstanceOf(StratumParseError);
  return result.error;
}

describe('parseMinerMessage: mining.configure', () => {
  it('reads an Antminer-style version-rolling request', () => {
    const line =
      '{"id":1,"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"1fffe000","version-rolling.min-bit-count":2}]}';
    expect(accepted(line)).toEqual({
      kind: 'mining.configure',
      id: 1,
      extensions: ['version-rolling'],
      versionRollingMask: 0x1fffe000,
      versionRollingMinBitCount: 2,
      minimumDifficulty: undefined,
      info: new Map(),
    });
  });

  it('reads the BIP 310 example with minimum-difficulty, info and an unknown extension', () => {
    const line = JSON.stringify({
      method: 'mining.configure',
      id: 'cfg-1',
      params: [
        ['minimum-difficulty', 'version-rolling', 'info', 'subscribe-extranonce', 'x-vendor-thing'],
        {
          'minimum-difficulty.value': 2048,
          'version-rolling.mask': '00FFF000',
          'version-rolling.min-bit-count': 2,
          'info.connection-url': 'stratum+tcp://pool.example.com:3333',
          'info.hw-version': 'Antminer S19j Pro',
          'info.sw-version': 'bmminer 1.0.0',
          'info.hw-id': 42,
          'x-vendor-thing.level': 'high',
        },
      ],
    });
    expect(accepted(line)).toEqual({
      kind: 'mining.configure',
      id: 'cfg-1',
      extensions: ['minimum-difficulty', 'version-rolling', 'info', 'subscribe-extranonce', 'x-vendor-thing'],
      versionRollingMask: 0x00fff000,
      versionRollingMinBitCount: 2,
      minimumDifficulty: 2048,
      // The numeric info.hw-id is dropped, not refused.
      info: new Map([
        ['connection-url', 'stratum+tcp://pool.example.com:3333'],
        ['hw-version', 'Antminer S19j Pro'],
        ['sw-version', 'bmminer 1.0.0'],
      ]),
    });
  });

  it('accepts a configure without the parameters object', () => {
    expect(
      accepted('{"id":2,"method":"mining.configure","params":[["subscribe-extranonce"]]}'),
    ).toMatchObject({
      extensions: ['subscribe-extranonce'],
      versionRollingMask: undefined,
    });
  });

  it('does not read parameters through __proto__', () => {
    const line =
      '{"id":3,"method":"mining.configure","params":[["version-rolling"],{"__proto__":{"version-rolling.mask":"ffffffff"},"info.__proto__":"x"}]}';
    const message = accepted(line);
    expect(message).toMatchObject({ versionRollingMask: undefined, info: new Map([['__proto__', 'x']]) });
    expect(({} as Record<string, unknown>)['version-rolling.mask']).toBeUndefined();
  });

  it('rejects a bad mask, min-bit-count or minimum difficulty, naming the parameter', () => {
    const configure = (options: string): StratumParseError =>
      rejected(`{"id":9,"method":"mining.configure","params":[["version-rolling"],${options}]}`);
    const badMask = configure('{"version-rolling.mask":"1fffe0"}');
    expect(badMask).toMatchObject({ id: 9, code: JsonRpcErrorCode.invalidParams });
    expect(badMask.message).toBe(
      'mining.configure: param 1 (version-rolling.mask) must be 8 hex characters, got "1fffe0"',
    );
    expect(configure('{"version-rolling.min-bit-count":33}').message).toBe(
      'mining.configure: param 1 (version-rolling.min-bit-count) must be an integer from 0 to 32, got 33',
    );
    expect(configure('{"minimum-difficulty.value":-5}').message).toMatch(
      /minimum-difficulty\.value.*positive/,
    );
    expect(configure('"version-rolling.mask=ffffffff"').message).toMatch(
      /param 1 \(extension_params\) must be an object/,
    );
  });

  it('rejects extensions that are not a list of strings', () => {
    expect(rejected('{"id":4,"method":"mining.configure","params":["version-rolling",{}]}').message).toBe(
      'mining.configure: param 0 (extensions) must be an array, got "version-rolling"',
    );
    expect(rejected('{"id":4,"method":"mining.configure","params":[["version-rolling",7],{}]}').message).toBe(
      'mining.configure: param 0 (extensions) entry 1 must be a string, got 7',
    );
  });
});

describe('parseMinerMessage: mining.subscribe', () => {
  it('reads a cgminer-style subscribe with a user agent', () => {
    expect(accepted('{"id":1,"method":"mining.subscribe","params":["cgminer/4.12.0"]}')).toEqual({
      kind: 'mining.subscribe',
      id: 1,
      userAgent: 'cgminer/4.12.0',
      sessionId: undefined,
    });
  });

  it('reads a NiceHash-style subscribe with user agent and session id', () => {
    expect(accepted('{"id":1,"method":"mining.subscribe","params":["NiceHash/1.0.0","08000002"]}')).toEqual({
      kind: 'mining.subscribe',
      id: 1,
      userAgent: 'NiceHash/1.0.0',
      sessionId: '08000002',
    });
  });

  it('tolerates empty, missing and null params and a host and port', () => {
    for (const params of ['[]', 'null', '[null,null]']) {
      expect(accepted(`{"id":1,"method":"mining.subscribe","params":${params}}`)).toMatchObject({
        userAgent: undefined,
        sessionId: undefined,
      });
    }
    expect(accepted('{"id":1,"method":"mining.subscribe"}')).toMatchObject({ kind: 'mining.subscribe' });
    expect(
      accepted(
        '{"id":1,"method":"mining.subscribe","params":["cpuminer/2.5.1",null,"pool.example.com",3333]}',
      ),
    ).toMatchObject({ userAgent: 'cpuminer/2.5.1', sessionId: undefined });
  });

  it('rejects five params and a numeric user agent', () => {
    const tooMany = rejected('{"id":5,"method":"mining.subscribe","params":["a",null,"h",1,"x"]}');
    expect(tooMany).toMatchObject({ id: 5, code: JsonRpcErrorCode.invalidParams });
    expect(tooMany.message).toBe(
      'mining.subscribe: expected 0 to 4 params [user_agent?, session_id?, host?, port?], got 5',
    );
    expect(rejected('{"id":5,"method":"mining.subscribe","params":[4]}').message).toBe(
      'mining.subscribe: param 0 (user_agent) must be a string, got 4',
    );
  });
});

describe('parseMinerMessage: mining.authorize', () => {
  it('reads username and password', () => {
    expect(
      accepted('{"params":["bc1qexampleaddress.rig01","x"],"id":2,"method":"mining.authorize"}'),
    ).toEqual({
      kind: 'mining.authorize',
      id: 2,
      username: 'bc1qexampleaddress.rig01',
      password: 'x',
    });
  });

  it('reads a missing or null password as empty', () => {
    expect(accepted('{"id":2,"method":"mining.authorize","params":["farm.worker1"]}')).toMatchObject({
      password: '',
    });
    expect(accepted('{"id":2,"method":"mining.authorize","params":["farm.worker1",null]}')).toMatchObject({
      password: '',
    });
  });

  it('rejects a missing or empty username and a numeric password', () => {
    expect(rejected('{"id":2,"method":"mining.authorize","params":[]}').message).toBe(
      'mining.authorize: expected 1 to 2 params [username, password?], got 0',
    );
    expect(rejected('{"id":2,"method":"mining.authorize","params":[""]}').message).toBe(
      'mining.authorize: param 0 (username) must not be empty',
    );
    expect(rejected('{"id":2,"method":"mining.authorize","params":["w",123]}').message).toBe(
      'mining.authorize: param 1 (password) must be a string, got 123',
    );
  });
});

describe('parseMinerMessage: mining.suggest_difficulty', () => {
  it('reads [N] and bare N', () => {
    expect(accepted('{"id":3,"method":"mining.suggest_difficulty","params":[4096]}')).toEqual({
      kind: 'mining.suggest_difficulty',
      id: 3,
      difficulty: 4096,
    });
    expect(accepted('{"id":3,"method":"mining.suggest_difficulty","params":0.5}')).toMatchObject({
      difficulty: 0.5,
    });
  });

  it('rejects zero, negative, infinite and non-numeric difficulty', () => {
    for (const params of ['[0]', '[-1]', '[1e400]', '["512"]', '0']) {
      const error = rejected(`{"id":3,"method":"mining.suggest_difficulty","params":${params}}`);
      expect(error).toMatchObject({ id: 3, code: JsonRpcErrorCode.invalidParams });
      expect(error.message).toMatch(
        /^mining\.suggest_difficulty: param 0 \(difficulty\) must be a positive number/,
      );
    }
  });
});

describe('parseMinerMessage: mining.extranonce.subscribe', () => {
  it('reads it with empty or absent params and rejects params', () => {
    expect(accepted('{"id":4,"method":"mining.extranonce.subscribe","params":[]}')).toEqual({
      kind: 'mining.extranonce.subscribe',
      id: 4,
    });
    expect(accepted('{"id":4,"method":"mining.extranonce.subscribe"}')).toMatchObject({ id: 4 });
    expect(rejected('{"id":4,"method":"mining.extranonce.subscribe","params":[1]}').message).toBe(
      'mining.extranonce.subscribe: expected 0 params [], got 1',
    );
  });
});

describe('parseMinerMessage: mining.submit', () => {
  it('reads the block 100000 share', () => {
    expect(
      accepted('{"id":5,"method":"mining.submit","params":["farm.worker1","1","02","4d1b2237","10572b0f"]}'),
    ).toEqual({
      kind: 'mining.submit',
      id: 5,
      worker: 'farm.worker1',
      jobId: '1',
      extranonce2: Uint8Array.of(0x02),
      ntime: 0x4d1b2237,
      nonce: 0x10572b0f,
      versionBits: undefined,
    });
  });

  it('reads version bits, upper-case hex and a long extranonce2', () => {
    const line =
      '{"id":6,"method":"mining.submit","params":["farm.s19","6a1e","0000000000000002","65F1A0B2","A1B2C3D4","1C2A0000"]}';
    expect(accepted(line)).toMatchObject({
      jobId: '6a1e',
      extranonce2: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 2),
      ntime: 0x65f1a0b2,
      nonce: 0xa1b2c3d4,
      versionBits: 0x1c2a0000,
    });
    expect(
      accepted('{"id":6,"method":"mining.submit","params":["w","j","00","00000000","00000000",null]}'),
    ).toMatchObject({ versionBits: undefined });
  });

  const submit = (params: string): StratumParseError =>
    rejected(`{"id":77,"method":"mining.submit","params":${params}}`);

  it('rejects wrong arity', () => {
    const error = submit('["w","j","00","00000000"]');
    expect(error).toMatchObject({ id: 77, code: JsonRpcErrorCode.invalidParams });
    expect(error.message).toBe(
      'mining.submit: expected 5 to 6 params [worker, job_id, extranonce2, ntime, nonce, version_bits?], got 4',
    );
    expect(submit('["w","j","00","00000000","00000000","00000000","x"]').message).toMatch(/got 7$/);
    expect(submit('{"worker":"w"}').message).toMatch(
      /^mining\.submit: params must be an array .*got an object$/,
    );
  });

  it('rejects wrong types, naming the parameter', () => {
    expect(submit('[1,"j","00","00000000","00000000"]').message).toBe(
      'mining.submit: param 0 (worker) must be a string, got 1',
    );
    expect(submit('["w",12,"00","00000000","00000000"]').message).toBe(
      'mining.submit: param 1 (job_id) must be a string, got 12',
    );
    expect(submit('["w","j","00",1293623863,"00000000"]').message).toBe(
      'mining.submit: param 3 (ntime) must be a string of 8 hex characters, got 1293623863',
    );
    expect(submit('["w","j",["00"],"00000000","00000000"]').message).toBe(
      'mining.submit: param 2 (extranonce2) must be a hex string, got an array of 1',
    );
  });

  it('rejects bad hex, naming the parameter', () => {
    const error = submit('["w","j","00","12345","00000000"]');
    expect(error).toMatchObject({ id: 77, code: JsonRpcErrorCode.invalidParams });
    expect(error.message).toBe('mining.submit: param 3 (ntime) must be 8 hex characters, got "12345"');
    expect(submit('["w","j","00","00000000","0000000g"]').message).toBe(
      'mining.submit: param 4 (nonce) must be hex, got "0000000g" ("g" at position 7 is not a hex digit)',
    );
    expect(submit('["w","j","00","00000000","00000000","0x1fffe0"]').message).toMatch(
      /^mining\.submit: param 5 \(version_bits\) must be hex/,
    );
    expect(submit('["w","j","abc","00000000","00000000"]').message).toBe(
      'mining.submit: param 2 (extranonce2) must have an even number of hex characters, got 3',
    );
    expect(submit('["w","j","","00000000","00000000"]').message).toBe(
      'mining.submit: param 2 (extranonce2) must be 1 to 32 bytes of hex, got 0 bytes',
    );
    expect(submit(`["w","j","${'00'.repeat(33)}","00000000","00000000"]`).message).toMatch(/got 33 bytes$/);
    expect(submit('["w","","00","00000000","00000000"]').message).toBe(
      'mining.submit: param 1 (job_id) must not be empty',
    );
  });
});

describe('parseMinerMessage: other methods and responses', () => {
  it('turns mining.get_transactions and unknown methods into unknown requests', () => {
    expect(accepted('{"id":8,"method":"mining.get_transactions","params":["1"]}')).toEqual({
      kind: 'unknown',
      id: 8,
      method: 'mining.get_transactions',
    });
    expect(accepted('{"id":9,"method":"toString","params":{"x":1}}')).toEqual({
      kind: 'unknown',
      id: 9,
      method: 'toString',
    });
    // A pool-side method sent by a miner is not something a proxy serves.
    expect(accepted('{"id":9,"method":"mining.notify","params":[]}')).toMatchObject({ kind: 'unknown' });
  });

  it("reads a miner's reply to client.get_version", () => {
    expect(accepted('{"id":100,"result":"bmminer/2.0.0","error":null}')).toEqual({
      kind: 'response',
      id: 100,
      result: 'bmminer/2.0.0',
      error: null,
    });
  });
});

describe('parseMinerMessage: the JSON-RPC envelope', () => {
  it('reports invalid JSON as a parse error with no id', () => {
    for (const line of ['{"id":1,"method":"mining.subscribe"', 'hello', '', '{"id":1,}', '\u0000']) {
      const error = rejected(line);
      expect(error).toMatchObject({ id: null, code: JsonRpcErrorCode.parseError });
      expect(error.message).toMatch(/^line is not valid JSON \(.+\)$/);
    }
    // The reason quotes only a short excerpt, however long the line.
    expect(rejected(`{${'x'.repeat(16_000)}`).message.length).toBeLessThan(200);
  });

  it('rejects JSON that is not one object', () => {
    for (const line of ['[]', '[{"id":1,"method":"mining.subscribe","params":[]}]', '42', 'null', '"x"']) {
      expect(rejected(line)).toMatchObject({ id: null, code: JsonRpcErrorCode.invalidRequest });
    }
  });

  it('refuses a string id longer than 64 characters: every answer echoes it', () => {
    expect(accepted(`{"id":"${'i'.repeat(64)}","method":"mining.subscribe","params":[]}`).id).toHaveLength(
      64,
    );
    const error = rejected(`{"id":"${'i'.repeat(12_000)}","method":"mining.subscribe","params":[]}`);
    expect(error).toMatchObject({ id: null, code: JsonRpcErrorCode.invalidRequest });
    expect(error.message).toBe('"id" is a string of 12000 characters; at most 64 are accepted');
  });

  it('accepts number, string and null ids, and a missing id as null', () => {
    expect(accepted('{"id":"a7","method":"mining.subscribe","params":[]}').id).toBe('a7');
    expect(accepted('{"id":null,"method":"mining.subscribe","params":[]}').id).toBeNull();
    expect(accepted('{"method":"mining.subscribe","params":[]}').id).toBeNull();
    expect(accepted('{"id":-0,"method":"mining.subscribe","params":[]}').id).toBe(0);
    expect(accepted('{"id":1.5,"method":"mining.subscribe","params":[]}').id).toBe(1.5);
  });

  it('rejects ids of other types and infinite ids', () => {
    for (const id of ['{}', '[1]', 'true', '1e400']) {
      const error = rejected(`{"id":${id},"method":"mining.subscribe","params":[]}`);
      expect(error).toMatchObject({ id: null, code: JsonRpcErrorCode.invalidRequest });
      expect(error.message).toMatch(/^"id" must be a number, a string or null/);
    }
  });

  it('rejects a non-string method, keeping the id', () => {
    const error = rejected('{"id":12,"method":["mining.submit"],"params":[]}');
    expect(error).toMatchObject({ id: 12, code: JsonRpcErrorCode.invalidRequest });
    expect(error.message).toBe('"method" must be a string, got an array of 1');
  });

  it('rejects an object that is neither request nor response', () => {
    expect(rejected('{"id":13,"params":[]}')).toMatchObject({
      id: 13,
      code: JsonRpcErrorCode.invalidRequest,
    });
    // A method hidden behind __proto__ is not a method.
    expect(rejected('{"id":14,"__proto__":{"method":"mining.subscribe"}}')).toMatchObject({
      id: 14,
      code: JsonRpcErrorCode.invalidRequest,
    });
  });

  it('turns deep nesting and huge input into errors, not exceptions', () => {
    expect(parseMinerMessage('['.repeat(200_000)).ok).toBe(false);
    const nested = `{"id":1,"method":"mining.submit","params":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    expect(rejected(nested).message).toMatch(/^mining\.submit: expected 5 to 6 params/);
  });
});
