import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_RETENTION_DAYS, retentionProblem } from '../ledger/retention.js';
import { jsonErrorWithoutExcerpt, redactCredentials } from '../log/redact.js';
import {
  EndpointError,
  parseHostPort,
  parseUpstreamUrl,
  type HostPort,
  type UpstreamUrl,
} from './endpoints.js';

/**
 * The proxy's one configuration schema. The CLI flags, the config file (JSON, same keys) and
 * the defaults below all feed it; flags override the file.
 */

const hostPort = z.string().transform((text, ctx): HostPort => {
  try {
    return parseHostPort(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

const upstreamUrl = z.string().transform((text, ctx): UpstreamUrl => {
  try {
    return parseUpstreamUrl(text);
  } catch (error) {
    if (!(error instanceof EndpointError)) throw error;
    ctx.addIssue({ code: 'custom', message: error.message });
    return z.NEVER;
  }
});

// A bare string is shorthand for { address } / { url }: normalised first, so errors name the field.
const listener = z.preprocess(
  (value) => (typeof value === 'string' ? { address: value } : value),
  z
    .object({
      address: hostPort,
      tls: z.object({ cert: z.string(), key: z.string() }).strict().optional(),
      /**
       * Miners on this port start at (and may not go below) these instead of vardiff's: a
       * low-difficulty port for small miners beside a high-difficulty one for farms.
       */
      initialDifficulty: z.number().positive().optional(),
      minDifficulty: z.number().positive().optional(),
    })
    .strict(),
);

const upstream = z.preprocess(
  (value) => (typeof value === 'string' ? { url: value } : value),
  z
    .object({
      url: upstreamUrl,
      name: z
        .string()
        .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'names are 1-64 of A-Z a-z 0-9 _ . -')
        .optional(),
      weight: z.number().positive().default(1),
    })
    .strict(),
);

const ledgerUrl = z
  .string()
  .regex(
    /^(sqlite:.+|postgres(ql)?:\/\/.+)/,
    'expected sqlite:PATH (e.g. sqlite:./hashrelay.sqlite) or postgres://USER:PASSWORD@HOST:PORT/DATABASE[?schema=NAME]',
  );

/**
 * What a miner whose submits are mostly invalid may cost. Stale shares are left out of the
 * invalid fraction (a burst of them after a new block is normal) but do spend the recording budget.
 * Budgets are kept per (source address, worker) and per address across connections
 * (proxy/reject-standings.ts), so reconnecting does not refill them.
 */
const REJECT_BUDGET_DEFAULTS = {
  windowSeconds: 60,
  minRejects: 50,
  maxInvalidRatio: 0.9,
  throttleMs: 1000,
  disconnectRejects: 200,
  recordedRejectsPerHour: 100,
  summarySeconds: 60,
  perAddressMultiple: 10,
  rememberedStandings: 100_000,
};

const rejectBudget = z
  .object({
    /** Invalid and total submits are counted per (address, worker) over about this long (decayed). */
    windowSeconds: z.number().positive().default(REJECT_BUDGET_DEFAULTS.windowSeconds),
    /** Past this many invalid submits in the window, with the fraction over maxInvalidRatio, answers slow down. */
    minRejects: z.number().positive().default(REJECT_BUDGET_DEFAULTS.minRejects),
    /** The invalid fraction of a connection's submits (stale left out) above which it is throttled, then closed. */
    maxInvalidRatio: z.number().min(0).max(1).default(REJECT_BUDGET_DEFAULTS.maxInvalidRatio),
    /** A throttled connection's rejected submits are answered this much later. */
    throttleMs: z.number().int().min(0).default(REJECT_BUDGET_DEFAULTS.throttleMs),
    /**
     * Past this many invalid submits in the window (fraction still over the limit) the connection is
     * closed, and the worker stays barred from that address (authorize refused, or closed on its
     * next invalid submit) until its invalid count has faded under minRejects.
     */
    disconnectRejects: z.number().positive().default(REJECT_BUDGET_DEFAULTS.disconnectRejects),
    /**
     * Rejected shares recorded one by one per connection (a bucket refilled at this rate per
     * hour); past it they are counted in the ledger's reject_summaries. Accepted shares, and
     * shares forwarded upstream, are always recorded one by one.
     */
    recordedRejectsPerHour: z.number().int().min(0).default(REJECT_BUDGET_DEFAULTS.recordedRejectsPerHour),
    /** How often counted rejects are written as summary rows. */
    summarySeconds: z.number().positive().default(REJECT_BUDGET_DEFAULTS.summarySeconds),
    /**
     * All workers from one address together get this many times a worker's minRejects and
     * disconnectRejects (a miner taking a new worker name each time); past it, with the address's
     * submits mostly invalid, its new connections are refused. The ratio rule keeps an honest
     * NAT'd farm (mostly accepted shares) clear of it.
     */
    perAddressMultiple: z.number().min(1).default(REJECT_BUDGET_DEFAULTS.perAddressMultiple),
    /** Standings (addresses and workers) remembered at most, least recently used dropped past it; settled ones are forgotten anyway. */
    rememberedStandings: z.number().int().min(100).default(REJECT_BUDGET_DEFAULTS.rememberedStandings),
  })
  .strict()
  .refine((budget) => budget.disconnectRejects >= budget.minRejects, {
    message: 'disconnectRejects must be at least minRejects',
  })
  .default(REJECT_BUDGET_DEFAULTS);

const LEDGER_RETENTION_DEFAULTS = { days: DEFAULT_RETENTION_DAYS, intervalMinutes: 60 };

/** What the proxy deletes from its ledger, and how often it looks (proxy/ledger-retention.ts). */
const ledgerRetention = z
  .object({
    /**
     * Shares and reject summaries older than this are deleted, and jobs no kept share names.
     * 0 keeps everything; otherwise at least 1 (what scoring and audits still read).
     */
    days: z
      .number()
      .default(LEDGER_RETENTION_DEFAULTS.days)
      .superRefine((days, ctx) => {
        const problem = retentionProblem(days);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      }),
    /** How often old rows are looked for (and the first time, at start). */
    intervalMinutes: z
      .number()
      .positive()
      .max(10_080, 'at most a week (10080 minutes)')
      .default(LEDGER_RETENTION_DEFAULTS.intervalMinutes),
  })
  .strict()
  .default(LEDGER_RETENTION_DEFAULTS);

export const proxyConfigSchema = z
  .object({
    listen: z.array(listener).min(1, 'at least one --listen HOST:PORT'),
    /** Empty only when the miner-agent supplies the set (from chain). */
    upstreams: z.array(upstream).default([]),
    ledger: ledgerUrl.default('sqlite:./hashrelay.sqlite'),
    ledgerRetention,
    /** The admin listener: /metrics, /healthz, /readyz, and /api/* with a bearer token. */
    metrics: hostPort.optional(),
    /** File holding the admin API's bearer token (HASHRELAY_ADMIN_TOKEN overrides it). */
    adminTokenFile: z.string().optional(),
    admin: z
      .object({
        /**
         * The status page (GET / and GET /api/status on the admin listener) opens without the
         * admin token. It shows worker names, hashrates, upstream hosts and hotkeys, never a
         * password, token or mnemonic; /api/state, /api/drain and /api/reload keep the token.
         */
        publicStatus: z.boolean().default(false),
      })
      .strict()
      .default({ publicStatus: false }),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    extranonce: z
      .object({
        /** Bytes of each miner's fixed extranonce1 slot: 2 gives 65,536 miners per proxy. */
        slotBytes: z.number().int().min(1).max(4).default(2),
        /** Extranonce2 bytes left to each miner: at least 4 for ASICs, 8 for a downstream proxy. */
        minerExtranonce2Size: z.number().int().min(2).max(8).default(4),
      })
      .strict()
      .default({ slotBytes: 2, minerExtranonce2Size: 4 }),
    vardiff: z
      .object({
        initialDifficulty: z.number().positive().default(65536),
        minDifficulty: z.number().positive().default(1),
        maxDifficulty: z
          .number()
          .positive()
          .default(2 ** 40),
        /** Seconds between shares each connection is steered towards (ckpool aims at ~3.3). */
        targetShareSeconds: z.number().positive().default(3.3),
        /** How often a connection's difficulty is reconsidered. */
        retargetSeconds: z.number().positive().default(30),
        /**
         * No share for this many target intervals cuts the difficulty 4× at once, without waiting
         * for retargetSeconds or a new job (a fresh job goes with it); 0 turns it off.
         */
        noShareTargets: z.number().min(0).default(6),
        /** The same before a connection's first share, while its difficulty is a guess; 0 = off. */
        firstShareTargets: z.number().min(0).default(2),
        /**
         * This many shares at 4× the target rate or faster raise the difficulty at once, without
         * waiting for retargetSeconds: a farm's session reaching a validator at the starting
         * difficulty would otherwise trip limits.messagesPerSecond and be closed, again at every
         * reconnect. 0 = off.
         */
        burstShares: z.number().int().min(0).default(16),
        /** Honour mining.suggest_difficulty and minimum-difficulty as floors. */
        honourMinerFloor: z.boolean().default(true),
      })
      .strict()
      .default({
        initialDifficulty: 65536,
        minDifficulty: 1,
        maxDifficulty: 2 ** 40,
        targetShareSeconds: 3.3,
        retargetSeconds: 30,
        noShareTargets: 6,
        firstShareTargets: 2,
        burstShares: 16,
        honourMinerFloor: true,
      }),
    limits: z
      .object({
        maxLineBytes: z
          .number()
          .int()
          .min(1024)
          .default(16 * 1024),
        maxConnections: z.number().int().positive().default(50_000),
        /** A connection must subscribe and authorize within this many seconds. */
        handshakeSeconds: z.number().positive().default(30),
        /** A connection that sends nothing for this long is closed. */
        idleSeconds: z.number().positive().default(600),
        /** Sustained messages per second per connection, and the burst allowed above it. */
        messagesPerSecond: z.number().positive().default(50),
        messageBurst: z.number().positive().default(200),
        /** Invalid messages tolerated per connection before it is closed. */
        maxInvalidMessages: z.number().int().positive().default(20),
        /** Refused mining.authorize requests on one connection that close it (forged-signature floods). */
        maxFailedAuthorizes: z.number().int().positive().default(3),
        /** Unsent bytes queued to one miner before it is judged too slow and closed. */
        maxPendingWriteBytes: z
          .number()
          .int()
          .positive()
          .default(1024 * 1024),
        /**
         * Unsent bytes queued to all miners together; past it, the connections that have gone
         * longest without draining are closed first until the total is under it again.
         */
        maxTotalPendingWriteBytes: z
          .number()
          .int()
          .positive()
          .default(64 * 1024 * 1024),
        /**
         * Open connections from one address (IPv6: one /64); 0 turns the limit off. Generous,
         * since a farm of many ASICs behind one NAT address is normal. Behind HAProxy every miner
         * has HAProxy's address: set 0 here and limit per source address in HAProxy.
         */
        maxConnectionsPerAddress: z.number().int().min(0).default(1000),
        /** Connections from one address that have not finished subscribe and authorize; 0 = off. */
        maxUnauthenticatedPerAddress: z.number().int().min(0).default(64),
        /**
         * New connections from one address a second, sustained, after a burst of
         * `newConnectionBurstPerAddress`; 0 = off. The burst lets a whole NAT'd farm reconnect at
         * once after a restart; the rate stops one host reconnecting in a loop.
         */
        newConnectionsPerAddressPerSecond: z.number().min(0).default(50),
        newConnectionBurstPerAddress: z.number().int().min(1).default(1000),
        rejectBudget,
      })
      .strict()
      .default({
        maxLineBytes: 16 * 1024,
        maxConnections: 50_000,
        handshakeSeconds: 30,
        idleSeconds: 600,
        messagesPerSecond: 50,
        messageBurst: 200,
        maxInvalidMessages: 20,
        maxFailedAuthorizes: 3,
        maxPendingWriteBytes: 1024 * 1024,
        maxTotalPendingWriteBytes: 64 * 1024 * 1024,
        maxConnectionsPerAddress: 1000,
        maxUnauthenticatedPerAddress: 64,
        newConnectionsPerAddressPerSecond: 50,
        newConnectionBurstPerAddress: 1000,
        rejectBudget: REJECT_BUDGET_DEFAULTS,
      }),
    upstream: z
      // The health rule these keys feed is written out once, in proxy/upstream-health.ts.
      .object({
        connectTimeoutSeconds: z.number().positive().default(10),
        /** An upstream that sends nothing (no job, no answer) for this long is failed over. */
        silenceSeconds: z.number().positive().default(120),
        /** A submit unanswered this long is recorded `no-answer` (counted lost). */
        submitTimeoutSeconds: z.number().positive().default(30),
        /** This many submits in a row recorded `no-answer` fail the upstream over. */
        maxUnansweredSubmits: z.number().int().positive().default(3),
        /**
         * A submit waiting this long with no submit answered since it was sent fails the upstream
         * over (a frozen pool, or one that still sends jobs but stopped answering).
         */
        submitAnswerSeconds: z.number().positive().default(10),
        /** Consecutive rejections of locally valid shares before an upstream is failed over. */
        maxConsecutiveRejects: z.number().int().positive().default(20),
        /** Reconnects back off from min to max (doubling, jittered) while nothing waits for the upstream. */
        backoffMinSeconds: z.number().positive().default(1),
        backoffMaxSeconds: z.number().positive().default(60),
        /**
         * A lost upstream ranked above the one carrying the miners (or, weighted, one whose share
         * others carry) is retried this often instead, so failback follows its recovery.
         */
        probeSeconds: z.number().positive().default(5),
        /** Miners per upstream session before another session is opened. */
        maxMinersPerSession: z.number().int().positive().default(4096),
        /** Jobs kept per session for late shares. */
        jobsKept: z.number().int().min(2).default(16),
        /** A removed upstream stays open this long so shares on its last jobs still reach it. */
        retireSeconds: z.number().min(0).default(30),
        /** With no upstream up, miners wait this long for work (a pool restarting) before whenNoUpstream applies. */
        noUpstreamGraceSeconds: z.number().positive().default(60),
        /**
         * disconnect: past the grace, miners waiting for work are closed (shown why) and new ones
         * refused at subscribe/authorize, so ASIC firmware fails over to its own backup pools.
         * wait: they stay connected with no work until an upstream is up.
         */
        whenNoUpstream: z.enum(['disconnect', 'wait']).default('disconnect'),
      })
      .strict()
      .default({
        connectTimeoutSeconds: 10,
        silenceSeconds: 120,
        submitTimeoutSeconds: 30,
        maxUnansweredSubmits: 3,
        submitAnswerSeconds: 10,
        maxConsecutiveRejects: 20,
        backoffMinSeconds: 1,
        backoffMaxSeconds: 60,
        probeSeconds: 5,
        maxMinersPerSession: 4096,
        jobsKept: 16,
        retireSeconds: 30,
        noUpstreamGraceSeconds: 60,
        whenNoUpstream: 'disconnect',
      }),
    blocks: z
      .object({
        /**
         * A share is a block only if it meets the job's nbits target and at least this
         * difficulty. Bitcoin's networks never go under difficulty 1 (regtest's nbits does, and
         * ckpool floors it at 1), so a share under the pool's difficulty goes up only if it is
         * a block by this rule. Lower it only for a chain whose blocks really are that easy.
         */
        minDifficulty: z.number().positive().default(1),
        /** Blocks logged whole (header, coinbase, submit) per minute; the rest are counted in one summary line. */
        loggedPerMinute: z.number().int().min(0).default(10),
      })
      .strict()
      .default({ minDifficulty: 1, loggedPerMinute: 10 }),
    routing: z
      .object({
        /**
         * failover: every miner on the first healthy upstream. weighted: miners spread so the
         * credited work each upstream receives tracks its `weight` (moves at job boundaries).
         */
        mode: z.enum(['failover', 'weighted']).default('failover'),
        /** Least time a miner stays on an upstream in weighted mode (bounds switching). */
        // 5 s keeps a 10-miner farm within 1 pp of stake per validator (bench/split-accuracy.ts) at
        // ~450 clean jobs per miner-hour; a longer dwell halves the switching for ~1 pp of accuracy.
        minDwellSeconds: z.number().positive().default(5),
        /** The window the weighted split is balanced over. */
        windowSeconds: z.number().positive().default(600),
      })
      .strict()
      .default({ mode: 'failover', minDwellSeconds: 5, windowSeconds: 600 }),
    /**
     * Distinct label values of hashrelay_miner_credited_difficulty_total{miner} and
     * hashrelay_worker_credited_difficulty_total{worker} (default 1000 each); the rest are
     * summed under "_other", so Prometheus series stay bounded however many miners connect.
     * Slots go to credited work: a value uncredited for idleSeconds gives its slot (and its
     * series) to the next newcomer, and a miner past its fair share of worker slots gives one
     * to another miner's worker.
     */
    metricsLabels: z
      .object({
        maxMiners: z.number().int().min(0).default(1000),
        maxWorkers: z.number().int().min(0).default(1000),
        idleSeconds: z.number().positive().default(600),
      })
      .strict()
      .default({ maxMiners: 1000, maxWorkers: 1000, idleSeconds: 600 }),
    /**
     * Rejected shares are logged per miner as one summary line (counts by verdict) at most this
     * often; per-share lines would drown the log at 10,000 miners.
     */
    rejectLogSeconds: z.number().positive().default(60),
    /** ckpool's rule: ntime may run this far past the job's. */
    ntimeMaxAheadSeconds: z.number().int().positive().default(7000),
    /** SIGTERM waits this long for in-flight shares before closing. */
    drainSeconds: z.number().positive().default(10),
  })
  .strict();

export type ProxyConfigInput = z.input<typeof proxyConfigSchema>;
export type ProxyConfig = z.output<typeof proxyConfigSchema>;
export type UpstreamConfig = ProxyConfig['upstreams'][number];
export type ListenerConfig = ProxyConfig['listen'][number];

/** The vardiff settings of miners on one listener: its own starting difficulty and floor, if set. */
export function listenerVardiff(config: ProxyConfig, listener: ListenerConfig): ProxyConfig['vardiff'] {
  return {
    ...config.vardiff,
    initialDifficulty: listener.initialDifficulty ?? config.vardiff.initialDifficulty,
    minDifficulty: listener.minDifficulty ?? config.vardiff.minDifficulty,
  };
}

export class ConfigError extends Error {}

/** Validates raw config, naming every bad key with the path an operator must fix. */
export function parseProxyConfig(
  raw: unknown,
  { upstreamsFromAgent = false }: { upstreamsFromAgent?: boolean } = {},
): ProxyConfig {
  const parsed = proxyConfigSchema.safeParse(raw);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const path = issue.path.length === 0 ? '(top level)' : issue.path.join('.');
        return `  ${path}: ${issue.message}`;
      });
  const upstreams = (raw as { upstreams?: unknown } | null)?.upstreams;
  if (!upstreamsFromAgent && (!Array.isArray(upstreams) || upstreams.length === 0))
    problems.push('  upstreams: at least one --upstream stratum+tcp://USER:PASS@HOST:PORT');
  if (!parsed.success || problems.length > 0)
    throw new ConfigError(redactCredentials(`invalid configuration:\n${problems.join('\n')}`));
  const config = parsed.data;
  if (config.vardiff.minDifficulty > config.vardiff.maxDifficulty) {
    throw new ConfigError('invalid configuration:\n  vardiff: minDifficulty is above maxDifficulty');
  }
  for (const [index, entry] of config.listen.entries()) {
    const { initialDifficulty, minDifficulty, maxDifficulty } = listenerVardiff(config, entry);
    if (minDifficulty > maxDifficulty)
      throw new ConfigError(
        `invalid configuration:\n  listen.${index}: minDifficulty is above vardiff.maxDifficulty`,
      );
    const own = entry.initialDifficulty !== undefined || entry.minDifficulty !== undefined;
    if (own && (initialDifficulty < minDifficulty || initialDifficulty > maxDifficulty))
      throw new ConfigError(
        `invalid configuration:\n  listen.${index}: initialDifficulty ${initialDifficulty} is outside ` +
          `[${minDifficulty}, ${maxDifficulty}]; set listen.${index}.minDifficulty too (or vardiff.maxDifficulty)`,
      );
  }
  return config;
}

export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${jsonErrorWithoutExcerpt(error)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/** Display names: configured, or the redacted host:port. Unique, since metrics label by them. */
export function upstreamNames(upstreams: readonly UpstreamConfig[]): string[] {
  const names = upstreams.map((u) => u.name ?? `${u.url.host}:${u.url.port}`);
  const seen = new Map<string, number>();
  return names.map((name) => {
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    return count === 1 ? name : `${name}#${count}`;
  });
}
