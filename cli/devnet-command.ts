import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  compactAddLength,
  compactFromU8a,
  hexToU8a,
  stringToU8a,
  u8aToHex,
  u8aToString,
} from '@polkadot/util';
import type { HexString } from '@polkadot/util/types';
import { xxhashAsHex } from '@polkadot/util-crypto';
import { ExitCode, type CommandResult } from './command.js';

export const devnetHelp = `Usage: hashrelay devnet --spec FILE [--port N] [--host HOST] [--log-level LEVEL]
       hashrelay devnet --endpoint wss://... [--block N] [--port N] [--host HOST]

Runs a local subtensor chain under chopsticks for dry runs: blocks are built as soon as a
transaction arrives (and on dev_newBlock), and //Alice is sudo on the usual dev specs.

  --spec FILE        a chain spec you supply, raw or plain (a plain spec's genesis is built by
                     running the runtime's own GenesisBuilder)
  --endpoint URL     fork a live chain instead (storage is read from it on demand)
  --block N          with --endpoint: fork at this block (default: its best block)
  --port N           where the chain's RPC listens (default 9944)
  --host HOST        default 127.0.0.1
  --log-level LEVEL  chopsticks' log level (default info)

Needs the @acala-network/chopsticks package (a development dependency of hashrelay).
`;

/** A chain spec with raw genesis storage, as chopsticks' GenesisProvider reads it. */
export interface RawChainSpec {
  readonly name: string;
  readonly id: string;
  readonly properties: Record<string, unknown>;
  readonly genesis: { readonly raw: { readonly top: Record<string, string> } };
}

export interface DevnetOptions {
  /** A chain spec file path or its parsed JSON (raw or plain). */
  readonly spec?: string | object;
  /** Fork this live endpoint instead of starting from a spec. */
  readonly endpoint?: string;
  readonly block?: number;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly host?: string;
  /** chopsticks' own log level (pino): 'warn' keeps tests quiet. */
  readonly logLevel?: string;
}

export interface Devnet {
  /** The WebSocket URL of the chain's RPC. */
  readonly endpoint: string;
  /** Builds `count` blocks now (as `dev_newBlock` does). */
  newBlocks(count: number): Promise<void>;
  close(): Promise<void>;
}

type Chopsticks = typeof import('@acala-network/chopsticks');

async function loadChopsticks(logLevel?: string): Promise<Chopsticks> {
  // chopsticks' loggers take their level from LOG_LEVEL when its modules load.
  if (logLevel !== undefined) process.env.LOG_LEVEL ??= logLevel;
  try {
    return await import('@acala-network/chopsticks');
  } catch (error) {
    throw new Error(
      `hashrelay devnet needs @acala-network/chopsticks (npm install @acala-network/chopsticks@1.1.0): ${(error as Error).message}`,
    );
  }
}

/** An executor callback for a runtime call on empty storage (building genesis reads nothing). */
const EMPTY_STATE = {
  getStorage: () => Promise.resolve(undefined),
  getNextKey: () => Promise.resolve(undefined),
  offchainGetStorage: () => Promise.resolve(undefined),
  offchainTimestamp: () => Promise.resolve(Date.now()),
  offchainRandomSeed: () => Promise.resolve(u8aToHex(new Uint8Array(32))),
  offchainSubmitTransaction: () => Promise.resolve(false),
};

const CODE_KEY = u8aToHex(stringToU8a(':code'));
const CHILD_STORAGE_PREFIX = u8aToHex(stringToU8a(':child_storage:'));
const TIMESTAMP_NOW_KEY = `${xxhashAsHex('Timestamp', 128)}${xxhashAsHex('Now', 128).slice(2)}` as HexString;

/**
 * A raw chain spec from a raw or plain one. A plain spec (`genesis.runtimeGenesis { code, patch
 * | config }`) is built the way a node builds it: the runtime's default genesis config
 * (`GenesisBuilder_get_preset(None)`) merged with the patch, then `GenesisBuilder_build_state`,
 * run in chopsticks' wasm executor on empty storage; the storage it writes is the raw genesis.
 * `Timestamp.Now` is fixed (Aura's slot check on block 1 fails without it).
 */
export async function rawChainSpec(spec: unknown, slotDurationMs: number): Promise<RawChainSpec> {
  if (typeof spec !== 'object' || spec === null) throw new Error('the chain spec is not a JSON object');
  const parsed = spec as {
    name?: unknown;
    id?: unknown;
    properties?: unknown;
    genesis?: {
      raw?: { top?: unknown };
      runtimeGenesis?: { code?: unknown; patch?: unknown; config?: unknown };
    };
  };
  const base = {
    name: typeof parsed.name === 'string' ? parsed.name : 'devnet',
    id: typeof parsed.id === 'string' ? parsed.id : 'devnet',
    properties: (parsed.properties ?? {}) as Record<string, unknown>,
  };
  const raw = parsed.genesis?.raw?.top;
  if (typeof raw === 'object' && raw !== null)
    return { ...base, genesis: { raw: { top: raw as Record<string, string> } } };
  const runtimeGenesis = parsed.genesis?.runtimeGenesis;
  if (typeof runtimeGenesis?.code !== 'string' || !runtimeGenesis.code.startsWith('0x'))
    throw new Error('the chain spec has neither genesis.raw nor genesis.runtimeGenesis.code (a plain spec)');
  const code = runtimeGenesis.code as HexString;
  const { runTask } = await loadChopsticks();
  const call = async (
    method: string,
    args: HexString[],
  ): Promise<{ result: HexString; diff: [HexString, HexString | null][] }> => {
    const response = await runTask(
      {
        wasm: code,
        calls: [[method, args]],
        mockSignatureHost: false,
        allowUnresolvedImports: true,
        runtimeLogLevel: 0,
      },
      EMPTY_STATE,
    );
    if ('Error' in response) throw new Error(`the runtime's ${method} failed: ${response.Error}`);
    return { result: response.Call.result, diff: response.Call.storageDiff };
  };
  let config: unknown = runtimeGenesis.config;
  if (config === undefined) {
    const preset = hexToU8a((await call('GenesisBuilder_get_preset', ['0x00'])).result);
    if (preset[0] !== 1)
      throw new Error('the runtime has no default genesis preset to apply the spec patch to');
    const [offset, length] = compactFromU8a(preset.subarray(1));
    const json = u8aToString(preset.subarray(1 + offset, 1 + offset + length.toNumber()));
    config = mergeJson(JSON.parse(json) as unknown, runtimeGenesis.patch ?? {});
  }
  const built = await call('GenesisBuilder_build_state', [
    u8aToHex(compactAddLength(stringToU8a(JSON.stringify(config)))),
  ]);
  // Result<(), String>: 0x00 is Ok.
  if (built.result !== '0x00')
    throw new Error(
      `the runtime rejected the spec's genesis config: ${u8aToString(hexToU8a(built.result).subarray(2))}`,
    );
  const top: Record<string, string> = {};
  for (const [key, value] of built.diff) {
    if (value === null || key.startsWith(CHILD_STORAGE_PREFIX)) continue;
    top[key] = value;
  }
  top[CODE_KEY] = code;
  top[TIMESTAMP_NOW_KEY] ??= u64Hex(BigInt(Math.floor(Date.now() / slotDurationMs) * slotDurationMs));
  return { ...base, genesis: { raw: { top } } };
}

/** sc-chain-spec's merge of a genesis patch: objects merge key by key, anything else replaces. */
export function mergeJson(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch))
    out[key] = key in base ? mergeJson(base[key], value) : value;
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function u64Hex(value: bigint): HexString {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, value, true);
  return u8aToHex(bytes);
}

/**
 * The runtime's Aura slot duration, asked with unresolved host functions allowed: chopsticks'
 * own probe disallows them, trips on subtensor's BLS imports and falls back to 12 s, which
 * breaks the slot check of every block it builds. Undefined for a runtime without Aura.
 */
async function auraSlotDuration(chopsticks: Chopsticks, code: HexString): Promise<number | undefined> {
  const response = await chopsticks.runTask(
    {
      wasm: code,
      calls: [['AuraApi_slot_duration', []]],
      mockSignatureHost: false,
      allowUnresolvedImports: true,
      runtimeLogLevel: 0,
    },
    EMPTY_STATE,
  );
  if ('Error' in response) return undefined;
  return Number(new DataView(hexToU8a(response.Call.result).buffer).getBigUint64(0, true));
}

/** lodash's `memoize` cache, as chopsticks exposes it (lodash's types are not installed). */
interface MemoisedByCode {
  readonly cache: { set(key: HexString, value: Promise<number>): unknown };
}

/** Seeds chopsticks' memoised slot-duration probe (keyed by the runtime code) with the real value. */
async function seedSlotDuration(chopsticks: Chopsticks, code: HexString): Promise<number | undefined> {
  const slot = await auraSlotDuration(chopsticks, code);
  if (slot !== undefined && slot > 0)
    (chopsticks.getAuraSlotDuration as unknown as MemoisedByCode).cache.set(code, Promise.resolve(slot));
  return slot;
}

/** Starts chopsticks with an RPC server from a spec (raw or plain) or as a fork of a live endpoint. */
export async function startDevnet(options: DevnetOptions): Promise<Devnet> {
  const chopsticks = await loadChopsticks(options.logLevel ?? 'info');
  (chopsticks.defaultLogger as unknown as { level: string }).level = options.logLevel ?? 'info';
  const common = {
    port: options.port ?? 9944,
    host: options.host ?? '127.0.0.1',
    'build-block-mode': chopsticks.BuildBlockMode.Instant,
    'allow-unresolved-imports': true,
  };
  let context: Awaited<ReturnType<Chopsticks['setupWithServer']>>;
  if (options.spec !== undefined) {
    const spec: unknown =
      typeof options.spec === 'string' ? JSON.parse(readFileSync(options.spec, 'utf8')) : options.spec;
    const code = specCode(spec);
    const slot = code === undefined ? undefined : await seedSlotDuration(chopsticks, code);
    const raw = await rawChainSpec(spec, slot ?? 12_000);
    const rawCode = raw.genesis.raw.top[CODE_KEY] as HexString | undefined;
    if (rawCode !== undefined && rawCode !== code) await seedSlotDuration(chopsticks, rawCode);
    context = await chopsticks.setupWithServer({ ...common, genesis: raw });
  } else if (options.endpoint !== undefined) {
    context = await chopsticks.setupWithServer({
      ...common,
      endpoint: options.endpoint,
      block: options.block,
    });
    await seedSlotDuration(chopsticks, await context.chain.head.wasm);
  } else {
    throw new Error('devnet needs a chain spec or an endpoint to fork');
  }
  return {
    endpoint: `ws://${context.addr}`,
    async newBlocks(count: number) {
      for (let i = 0; i < count; i++) await context.chain.newBlock();
    },
    async close() {
      await context.close();
      await chopsticks.destroyWorker();
    },
  };
}

function specCode(spec: unknown): HexString | undefined {
  const genesis = (
    spec as { genesis?: { raw?: { top?: Record<string, unknown> }; runtimeGenesis?: { code?: unknown } } }
  ).genesis;
  const code = genesis?.runtimeGenesis?.code ?? genesis?.raw?.top?.[CODE_KEY];
  return typeof code === 'string' && code.startsWith('0x') ? (code as HexString) : undefined;
}

export async function runDevnetCommand(args: readonly string[]): Promise<CommandResult> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        help: { type: 'boolean', short: 'h' },
        spec: { type: 'string' },
        endpoint: { type: 'string' },
        block: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'log-level': { type: 'string' },
      },
    }));
  } catch (error) {
    return { code: ExitCode.usage, stderr: `hashrelay devnet: ${(error as Error).message}\n\n${devnetHelp}` };
  }
  if (values.help === true) return { code: ExitCode.ok, stdout: devnetHelp };
  if ((values.spec === undefined) === (values.endpoint === undefined))
    return {
      code: ExitCode.usage,
      stderr: `hashrelay devnet: give exactly one of --spec or --endpoint\n\n${devnetHelp}`,
    };
  const port = values.port === undefined ? 9944 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    return {
      code: ExitCode.usage,
      stderr: `hashrelay devnet: --port ${values.port ?? ''} is not a port number\n`,
    };
  const block = values.block === undefined ? undefined : Number(values.block);
  if (block !== undefined && (!Number.isInteger(block) || block < 0))
    return {
      code: ExitCode.usage,
      stderr: `hashrelay devnet: --block ${values.block ?? ''} is not a block number\n`,
    };

  let devnet: Devnet;
  try {
    devnet = await startDevnet({
      spec: values.spec,
      endpoint: values.endpoint,
      block,
      port,
      host: values.host,
      logLevel: values['log-level'] ?? 'info',
    });
  } catch (error) {
    return { code: ExitCode.failure, stderr: `hashrelay devnet: ${(error as Error).message}\n` };
  }
  process.stderr.write(`hashrelay devnet: chain RPC at ${devnet.endpoint} (Ctrl-C to stop)\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await devnet.close();
  return { code: ExitCode.ok };
}
