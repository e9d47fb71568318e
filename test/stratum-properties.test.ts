import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonRpcErrorCode, StratumParseError } from '../src/stratum/errors.js';
import type {
  JsonRpcId,
  JsonValue,
  MinerMessage,
  MinerRequest,
  PoolMessage,
  PoolRequest,
  StratumResponse,
} from '../src/stratum/messages.js';
import { parseMinerMessage, parsePoolMessage, type ParseResult } from '../src/stratum/parse.js';
import { decodeConfigureResult, decodeSubscribeResult } from '../src/stratum/results.js';
import {
  encodeConfigureResult,
  encodeSubscribeResult,
  serializeMinerMessage,
  serializeNotify,
  serializePoolMessage,
} from '../src/stratum/serialize.js';
import { toDifficulty, toJobId } from '../src/work/types.js';

// ---- arbitraries for every message ----

/** Any UTF-16 string, lone surrogates and control characters included. */
const text = fc.string({ unit: 'binary', maxLength: 24 });
const nonEmptyText = fc.string({ unit: 'binary', minLength: 1, maxLength: 24 });
const id: fc.Arbitrary<JsonRpcId> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
  text,
  fc.constant(null),
);
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const difficulty = fc
  .double({ min: Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true })
  .map(toDifficulty);
const bytes = (minLength: number, maxLength: number): fc.Arbitrary<Uint8Array> =>
  fc.uint8Array({ minLength, maxLength });
const optional = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.option(arbitrary, { nil: undefined });

const MINER_METHODS = new Set([
  'mining.configure',
  'mining.subscribe',
  'mining.authorize',
  'mining.suggest_difficulty',
  'mining.extranonce.subscribe',
  'mining.submit',
]);
const POOL_METHODS = new Set([
  'mining.set_difficulty',
  'mining.notify',
  'mining.set_version_mask',
  'mining.set_extranonce',
  'client.reconnect',
  'client.show_message',
  'client.get_version',
  'mining.ping',
]);

const minerRequest: fc.Arbitrary<MinerRequest> = fc.oneof(
  fc.record({
    kind: fc.constant('mining.configure' as const),
    id,
    extensions: fc.array(text, { maxLength: 5 }),
    versionRollingMask: optional(u32),
    versionRollingMinBitCount: optional(fc.integer({ min: 0, max: 32 })),
    minimumDifficulty: optional(difficulty),
    info: fc.array(fc.tuple(text, text), { maxLength: 4 }).map((entries) => new Map(entries)),
  }),
  fc.record({
    kind: fc.constant('mining.subscribe' as const),
    id,
    userAgent: optional(text),
    sessionId: optional(text),
  }),
  fc.record({ kind: fc.constant('mining.authorize' as const), id, username: nonEmptyText, password: text }),
  fc.record({ kind: fc.constant('mining.suggest_difficulty' as const), id, difficulty }),
  fc.record({ kind: fc.constant('mining.extranonce.subscribe' as const), id }),
  fc.record({
    kind: fc.constant('mining.submit' as const),
    id,
    worker: text,
    jobId: nonEmptyText.map(toJobId),
    extranonce2: bytes(1, 32),
    ntime: u32,
    nonce: u32,
    versionBits: optional(u32),
  }),
  fc.record({
    kind: fc.constant('unknown' as const),
    id,
    method: text.filter((method) => !MINER_METHODS.has(method)),
  }),
);

const job = fc.record({
  jobId: nonEmptyText.map(toJobId),
  prevhash: bytes(32, 32),
  coinb1: bytes(0, 200),
  coinb2: bytes(0, 200),
  merkleBranch: fc.array(bytes(32, 32), { maxLength: 14 }),
  version: u32,
  nbits: u32,
  ntime: u32,
  cleanJobs: fc.boolean(),
});

const poolRequest: fc.Arbitrary<PoolRequest> = fc.oneof(
  fc.record({ kind: fc.constant('mining.set_difficulty' as const), id, difficulty }),
  fc.record({ kind: fc.constant('mining.notify' as const), id, job }),
  fc.record({ kind: fc.constant('mining.set_version_mask' as const), id, mask: u32 }),
  fc.record({
    kind: fc.constant('mining.set_extranonce' as const),
    id,
    extranonce1: bytes(0, 32),
    extranonce2Size: fc.integer({ min: 0, max: 16 }),
  }),
  fc.record({
    kind: fc.constant('client.reconnect' as const),
    id,
    target: optional(
      fc.record({
        host: fc.string({ unit: 'binary', minLength: 1, maxLength: 255 }),
        port: fc.integer({ min: 1, max: 65535 }),
        waitSeconds: optional(fc.integer({ min: 0, max: 0x7fffffff })),
      }),
    ),
  }),
  fc.record({ kind: fc.constant('client.show_message' as const), id, text }),
  fc.record({ kind: fc.constant('client.get_version' as const), id }),
  fc.record({ kind: fc.constant('mining.ping' as const), id }),
  fc.record({
    kind: fc.constant('unknown' as const),
    id,
    method: text.filter((method) => !POOL_METHODS.has(method)),
  }),
);

const response: fc.Arbitrary<StratumResponse> = fc.record({
  kind: fc.constant('response' as const),
  id,
  // Through JSON once: JSON has no -0, so a -0 in the generated value could never come back.
  result: fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.parse(JSON.stringify(value)) as JsonValue),
  error: fc.option(fc.record({ code: fc.integer(), message: text }), { nil: null }),
});

const minerMessage: fc.Arbitrary<MinerMessage> = fc.oneof(minerRequest, response);
const poolMessage: fc.Arbitrary<PoolMessage> = fc.oneof(poolRequest, response);

// ---- helpers ----

function expectWellFormedFailure(result: ParseResult<unknown>): void {
  if (result.ok) return;
  expect(result.error).toBeInstanceOf(StratumParseError);
  expect(result.error.code).not.toBe(JsonRpcErrorCode.internalError);
  expect(result.error.message.length).toBeGreaterThan(0);
}

/** What an accepted line means must survive being written out and read again. */
function expectStableMiner(line: string): void {
  const result = parseMinerMessage(line);
  expectWellFormedFailure(result);
  if (!result.ok) return;
  const again = serializeMinerMessage(result.message);
  const reparsed = parseMinerMessage(again);
  expect(reparsed.ok).toBe(true);
  if (reparsed.ok) expect(serializeMinerMessage(reparsed.message)).toBe(again);
}

function expectStablePool(line: string): void {
  const result = parsePoolMessage(line);
  expectWellFormedFailure(result);
  if (!result.ok) return;
  const again = serializePoolMessage(result.message);
  const reparsed = parsePoolMessage(again);
  expect(reparsed.ok).toBe(true);
  if (reparsed.ok) expect(serializePoolMessage(reparsed.message)).toBe(again);
}

/** A valid line with a few characters deleted, inserted or replaced. */
const mutated = (valid: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc
    .tuple(
      valid,
      fc.array(
        fc.tuple(
          fc.constantFrom('delete', 'insert', 'replace'),
          fc.nat(),
          fc.oneof(
            fc.constantFrom(...'{}[]",:-.0123456789abcdefgxeE \\nul'.split('')),
            fc.string({ unit: 'binary', maxLength: 2 }),
          ),
        ),
        { minLength: 1, maxLength: 4 },
      ),
    )
    .map(([line, edits]) => {
      let result = line;
      for (const [edit, position, insert] of edits) {
        const at = position % (result.length + 1);
        if (edit === 'delete') result = result.slice(0, at) + result.slice(at + 1);
        else if (edit === 'insert') result = result.slice(0, at) + insert + result.slice(at);
        else result = result.slice(0, at) + insert + result.slice(at + 1);
      }
      return result;
    });

/** Structurally plausible requests with arbitrary params, to reach every validator. */
const plausibleParam = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('00000000', 'ffffffff', '1fffe000', '0g000000', '02', '0', '', 'x'),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('hex')),
  fc.array(
    fc.uint8Array({ minLength: 31, maxLength: 33 }).map((b) => Buffer.from(b).toString('hex')),
    { maxLength: 3 },
  ),
  fc.dictionary(
    fc.constantFrom(
      'version-rolling.mask',
      'version-rolling.min-bit-count',
      'minimum-difficulty.value',
      'info.x',
      '__proto__',
    ),
    fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constantFrom('1fffe000', 2, 33, -1)),
  ),
  fc.double(),
  fc.integer(),
);
const plausibleLine = fc
  .record({
    id: fc.oneof(id, fc.jsonValue({ maxDepth: 1 }), fc.constant(undefined)),
    method: fc.constantFrom(...MINER_METHODS, ...POOL_METHODS, 'mining.get_transactions'),
    params: fc.oneof(fc.array(plausibleParam, { maxLength: 10 }), plausibleParam),
  })
  .map((message) => JSON.stringify(message));

/** A valid request with one param replaced, added or removed: each validator with valid neighbours. */
const perturbedLine = fc
  .tuple(
    fc.oneof(
      minerRequest.map((message) => serializeMinerMessage(message)),
      poolRequest.map((message) => serializePoolMessage(message)),
    ),
    fc.constantFrom('replace', 'append', 'drop'),
    fc.nat(),
    plausibleParam,
  )
  .map(([line, edit, position, param]) => {
    const message = JSON.parse(line) as { params: unknown[] };
    const { params } = message;
    if (edit === 'append') params.push(param);
    else if (params.length > 0 && edit === 'drop') params.splice(position % params.length, 1);
    else if (params.length > 0) params[position % params.length] = param;
    return JSON.stringify(message);
  });

// ---- properties ----

describe('codec round trips', () => {
  it('parseMinerMessage(serializeMinerMessage(x)) equals x for every miner-side message', () => {
    fc.assert(
      fc.property(minerMessage, (message) => {
        const line = serializeMinerMessage(message);
        expect(line.endsWith('\n')).toBe(true);
        expect(line.indexOf('\n')).toBe(line.length - 1);
        expect(parseMinerMessage(line.slice(0, -1))).toEqual({ ok: true, message });
      }),
      { numRuns: 500 },
    );
  });

  it('parsePoolMessage(serializePoolMessage(x)) equals x for every pool-side message', () => {
    fc.assert(
      fc.property(poolMessage, (message) => {
        const line = serializePoolMessage(message);
        expect(line.indexOf('\n')).toBe(line.length - 1);
        expect(parsePoolMessage(line.slice(0, -1))).toEqual({ ok: true, message });
      }),
      { numRuns: 500 },
    );
  });

  it('serializeNotify writes the same bytes as the generic serialiser', () => {
    fc.assert(
      fc.property(job, id, (notifyJob, notifyId) => {
        const line = serializePoolMessage({ kind: 'mining.notify', id: notifyId, job: notifyJob });
        expect(serializeNotify(notifyJob, notifyId).toString('utf8')).toBe(line);
      }),
    );
  });

  it('subscribe and configure results decode to what was encoded', () => {
    fc.assert(
      fc.property(
        fc.record({
          subscriptions: fc.array(fc.tuple(text, text), { maxLength: 3 }),
          extranonce1: bytes(0, 32),
          extranonce2Size: fc.integer({ min: 0, max: 16 }),
        }),
        (result) => {
          const wire = JSON.parse(JSON.stringify(encodeSubscribeResult(result))) as unknown;
          expect(decodeSubscribeResult(wire)).toEqual({ ok: true, value: result });
        },
      ),
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            text.filter((key) => !key.includes('.')),
            fc.boolean(),
          ),
          { maxLength: 4 },
        ),
        optional(u32),
        (entries, mask) => {
          const accepted = new Map(entries);
          const versionRollingMask = accepted.get('version-rolling') === true ? (mask ?? 0x1fffe000) : mask;
          const result = { accepted, versionRollingMask };
          const wire = JSON.parse(JSON.stringify(encodeConfigureResult(result))) as unknown;
          expect(decodeConfigureResult(wire)).toEqual({ ok: true, value: result });
        },
      ),
    );
  });
});

describe('parsers never throw', () => {
  it('on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (line) => {
        expectStableMiner(line);
        expectStablePool(line);
      }),
      { numRuns: 1000 },
    );
  });

  it('on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const line = JSON.stringify(value);
        expectStableMiner(line);
        expectStablePool(line);
      }),
      { numRuns: 500 },
    );
  });

  it('on requests with arbitrary params', () => {
    fc.assert(
      fc.property(plausibleLine, (line) => {
        expectStableMiner(line);
        expectStablePool(line);
      }),
      { numRuns: 3000 },
    );
  });

  it('on valid requests with one param changed', () => {
    fc.assert(
      fc.property(perturbedLine, (line) => {
        expectStableMiner(line);
        expectStablePool(line);
      }),
      { numRuns: 3000 },
    );
  });

  it('on mutated valid lines', () => {
    const validLine = fc.oneof(
      minerMessage.map((message) => serializeMinerMessage(message).slice(0, -1)),
      poolMessage.map((message) => serializePoolMessage(message).slice(0, -1)),
    );
    fc.assert(
      fc.property(mutated(validLine), (line) => {
        expectStableMiner(line);
        expectStablePool(line);
      }),
      { numRuns: 3000 },
    );
  });
});
