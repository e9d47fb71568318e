import { createServer, connect as connectSocket, type Server, type Socket } from 'node:net';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, test, vi } from 'vitest';
import type { Ledger, ShareRecord, TimeWindow } from '../src/ledger/ledger.js';
import { LedgerError } from '../src/ledger/ledger-error.js';
import { openLedger } from '../src/ledger/open-ledger.js';
import { openPgLedger, type PgLedger, type PgLedgerOptions } from '../src/ledger/pg-ledger.js';
import { exactDecimal, text } from '../src/ledger/pg-ledger-batch.js';
import { SCHEMA_VERSION } from '../src/ledger/pg-ledger-schema.js';
import { isRetryable, parsePgUrl, sqlState } from '../src/ledger/pg-ledger-connection.js';
import { openSqliteLedger } from '../src/ledger/sqlite-ledger.js';
import { LOCAL_VERDICTS, UPSTREAM_VERDICTS } from '../src/ledger/verdicts.js';
import { proxyConfigSchema } from '../src/config/proxy-config.js';
import { describeLedgerContract, EVERYTHING, ledgerError } from './support/ledger-contract.js';
import { ledgerDir, makeJob, makeShare, removeLedgerDirs } from './support/ledger-records.js';
import {
  findPostgresBinaries,
  HOW_TO_ENABLE,
  testPostgres,
  ThrowawayCluster,
  usePostgres,
  type TestPostgres,
} from './support/postgres.js';
import { skipNote } from './support/skip-note.js';

/**
 * The PostgreSQL ledger against a real server: HASHRELAY_TEST_POSTGRES_URL (.ci/run sets it),
 * or a throwaway cluster started here when PostgreSQL is installed. Each test writes to a
 * schema of its own.
 */

const found = await testPostgres();
if (typeof found === 'string') console.warn(`skipping the PostgreSQL ledger tests: ${found}`);
const postgres = typeof found === 'string' ? null : found;
afterAll(async () => {
  await postgres?.release();
  removeLedgerDirs();
});

const opened: Ledger[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((ledger) => ledger.close()));
});

function server(): TestPostgres {
  if (postgres === null) throw new Error(HOW_TO_ENABLE);
  return postgres;
}

async function open(schema = server().freshSchema(), options: PgLedgerOptions = {}): Promise<PgLedger> {
  const ledger = await openPgLedger(server().url, { schema, ...options });
  opened.push(ledger);
  return ledger;
}

/** Runs one statement on a connection of its own. */
async function sql<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = await server().connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

describe('PostgreSQL ledger: the parts that need no server', () => {
  test('a difficulty is sent as the exact decimal value of its double, which reads back as the same double', () => {
    expect(exactDecimal(65536)).toBe('65536');
    expect(exactDecimal(0.1)).toBe('0.1000000000000000055511151231257827021181583404541015625');
    expect(exactDecimal(0.5)).toBe('0.5');
    expect(exactDecimal(2 ** 70)).toBe('1180591620717411303424');
    expect(exactDecimal(2 ** -1074)).toMatch(/^0\.0{323}49406564584124654417656879286822137236505980\d+$/);
    fc.assert(
      fc.property(fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }), (x) => {
        expect(Number(exactDecimal(x))).toBe(x === 0 ? 0 : x);
      }),
      { seed: 3, numRuns: 2000 },
    );
  });

  test('text is quoted for a PostgreSQL array, with U+0000 replaced by U+FFFD', () => {
    expect(text('rig1')).toBe('"rig1"');
    expect(text('NULL')).toBe('"NULL"');
    expect(text('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(text('x\u0000y')).toBe('"x\uFFFDy"');
  });

  test('transport failures and server shutdowns are retried; broken records and missing tables are not', () => {
    const transport = (code: string, message: string): Error => Object.assign(new Error(message), { code });
    const server = (code: string): Error => {
      const error = new pg.DatabaseError('from the server', 0, 'error');
      error.code = code;
      return error;
    };
    expect(isRetryable(transport('EPIPE', 'write EPIPE'))).toBe(true);
    expect(sqlState(transport('EPIPE', 'write EPIPE'))).toBeUndefined();
    expect(isRetryable(transport('ECONNREFUSED', 'connect ECONNREFUSED'))).toBe(true);
    expect(isRetryable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isRetryable(server('57P01'))).toBe(true); // terminating connection due to administrator command
    expect(isRetryable(server('57P03'))).toBe(true); // the database system is starting up
    expect(isRetryable(server('08006'))).toBe(true);
    expect(isRetryable(server('25006'))).toBe(true); // a standby, during a failover
    expect(isRetryable(server('23505'))).toBe(false);
    expect(isRetryable(server('42P01'))).toBe(false);
    expect(isRetryable(new TypeError('a bug'))).toBe(false);
  });

  test('the URL: ?schema= is ours and leaves the rest to pg; the password never reaches a message', () => {
    const location = parsePgUrl('postgres://farm:pa55@db.example:6432/ledger?schema=farm_1&sslmode=disable');
    expect(location.schema).toBe('farm_1');
    expect(location.where).toBe('farm@db.example:6432/ledger schema farm_1');
    expect(location.config.connectionString).toBe(
      'postgres://farm:pa55@db.example:6432/ledger?sslmode=disable',
    );
    expect(parsePgUrl('postgresql://u@h/d').schema).toBe('hashrelay');
    expect(() => parsePgUrl('postgres://u@h/d?schema=1abc')).toThrow(RangeError);
    expect(() => parsePgUrl('http://u:secret@h/d')).toThrow(
      /starts with postgres:\/\/ or postgresql:\/\/, got 'http:\/\/u:\*\*\*@h\/d'/,
    );
  });
});

const WITH_SERVER = `PostgreSQL${skipNote(typeof found === 'string' ? found : null)}`;
describe.skipIf(postgres === null)(WITH_SERVER, () => {
  test(`uses ${postgres?.source ?? 'nothing'}`, () => {
    expect(postgres).not.toBeNull();
  });

  describeLedgerContract({
    name: 'PostgreSQL',
    fresh: () => server().freshSchema(),
    open: (schema, options) => openPgLedger(server().url, { schema, ...options }),
  });

  describe('PostgreSQL ledger: the schema', () => {
    test('tables, indexes, id sequences and version, with names compared as bytes', async () => {
      const schema = server().freshSchema();
      await open(schema);
      const tables = await sql<{ name: string }>(
        `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 ORDER BY 1`,
        [schema],
      );
      expect(tables.map((t) => t.name)).toEqual([
        'job_ids',
        'jobs',
        'jobs_pkey',
        'jobs_received_at',
        'meta',
        'meta_pkey',
        'reject_summaries',
        'reject_summaries_id_seq',
        'reject_summaries_pkey',
        'reject_summaries_start',
        'share_ids',
        'shares',
        'shares_credited_hash',
        'shares_job',
        'shares_miner_time',
        'shares_pkey',
        'shares_time',
        'shares_upstream_time',
      ]);
      expect(await sql(`SELECT application, schema_version FROM ${schema}.meta`)).toEqual([
        { application: 'hashrelay-ledger', schema_version: SCHEMA_VERSION },
      ]);
      const collations = await sql<{ column_name: string; collation_name: string | null }>(
        `SELECT column_name, collation_name FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = 'shares' AND column_name IN ('miner', 'worker', 'upstream')`,
        [schema],
      );
      expect(collations.every((c) => c.collation_name === 'C')).toBe(true);
    });

    test('a second instance opening the same schema finds it ready and migrates nothing', async () => {
      const schema = server().freshSchema();
      const [a, b] = await Promise.all([open(schema), open(schema)]);
      expect(a.where).toBe(b.where);
      expect(a.where).toContain(`schema ${schema}`);
      expect(await sql(`SELECT count(*)::int AS n FROM ${schema}.meta`)).toEqual([{ n: 1 }]);
    });

    test('a schema holding something else, or a newer ledger, is refused', async () => {
      const foreign = server().freshSchema();
      await sql(`CREATE SCHEMA ${foreign}`);
      await sql(`CREATE TABLE ${foreign}.t (x int)`);
      const notLedger = await ledgerError(
        openPgLedger(server().url, { schema: foreign }),
        'LEDGER_OPEN_FAILED',
      );
      expect(notLedger.message).toMatch(/holds tables but is not a hashrelay ledger/);
      expect(notLedger.message).toMatch(/a schema of its own \(\?schema=NAME in the URL\)/);

      const newer = server().freshSchema();
      await (await open(newer)).close();
      await sql(`UPDATE ${newer}.meta SET schema_version = 99`);
      const tooNew = await ledgerError(openPgLedger(server().url, { schema: newer }), 'LEDGER_OPEN_FAILED');
      expect(tooNew.message).toContain(`schema version 99, newer than this hashrelay's ${SCHEMA_VERSION};`);
    });

    test('an empty schema made by the DBA is used as it is', async () => {
      const schema = server().freshSchema();
      await sql(`CREATE SCHEMA ${schema}`);
      const ledger = await open(schema);
      expect(await ledger.recordShare(makeShare(0, ledger.recordJob(makeJob(0))))).toBeGreaterThan(0);
    });
  });

  describe('PostgreSQL ledger: URLs and open errors', () => {
    test('the schema comes from ?schema= in the URL; openLedger and the proxy config take postgres URLs', async () => {
      const schema = server().freshSchema();
      const ledger = await openLedger(server().urlFor(schema));
      opened.push(ledger);
      await ledger.recordShare(makeShare(0, ledger.recordJob(makeJob(0))));
      expect(await sql(`SELECT count(*)::int AS n FROM ${schema}.shares`)).toEqual([{ n: 1 }]);

      const config = (ledger: string) => proxyConfigSchema.safeParse({ listen: ['127.0.0.1:3333'], ledger });
      expect(config('postgres://u:p@db:5432/hashrelay?schema=farm').success).toBe(true);
      expect(config('postgresql://u@/hashrelay?host=/run/postgresql').success).toBe(true);
      const wrong = config('mysql://u@db/x');
      expect(wrong.success).toBe(false);
      expect(JSON.stringify(wrong.error)).toMatch(/or postgres:\/\/USER:PASSWORD@HOST:PORT\/DATABASE/);
    });

    test('a bad schema name is refused before connecting', async () => {
      await expect(openPgLedger('postgres://u@localhost/db?schema=Bad-Name')).rejects.toThrow(
        /ledger schema 'Bad-Name' must be 1-63 of a-z 0-9 _/,
      );
    });

    test('an unreachable server and a missing database say what to check, without the password', async () => {
      const refused = await ledgerError(
        openPgLedger('postgres://someone:s3cret@127.0.0.1:1/db', { connectTimeoutMs: 2000 }),
        'LEDGER_OPEN_FAILED',
      );
      expect(refused.message).toMatch(/is PostgreSQL running and listening at that address\?/);
      expect(refused.message).toContain('someone@127.0.0.1:1/db');
      expect(refused.message).not.toContain('s3cret');

      const client = new pg.Client({ connectionString: server().url });
      const { user, host, port } = client as unknown as { user: string; host: string; port: number };
      const missing = await ledgerError(
        openPgLedger(`postgresql://${user}@/no_such_database?host=${encodeURIComponent(host)}&port=${port}`),
        'LEDGER_OPEN_FAILED',
      );
      expect(missing.message).toMatch(/database does not exist: create it/);
    });
  });

  describe('PostgreSQL ledger: what PostgreSQL stores differently', () => {
    test('U+0000, which PostgreSQL text cannot hold, is stored as U+FFFD and refuses nothing', async () => {
      const ledger = await open();
      const jobId = ledger.recordJob(makeJob(2, { upstreamJobId: 'a\u0000b' }));
      const id = await ledger.recordShare(makeShare(9, jobId, { upstream: 'x\u0000y', worker: '\u0000' }));
      ledger.recordUpstreamVerdict({ shareId: id, verdict: 'rejected', error: 'bad\u0000' });
      await ledger.flush();
      const [stored] = await ledger.shares(EVERYTHING);
      expect(stored).toMatchObject({ upstream: 'x\uFFFDy', worker: '\uFFFD', upstreamError: 'bad\uFFFD' });
      expect((await ledger.job(jobId))?.upstreamJobId).toBe('a\uFFFDb');
    });
  });

  describe('PostgreSQL ledger: durability settings', () => {
    test('a session default of synchronous_commit = off is turned back on for the writer', async () => {
      const schema = server().freshSchema();
      const url = `${server().urlFor(schema)}&options=${encodeURIComponent('-c synchronous_commit=off')}`;
      const ledger = await openPgLedger(url);
      opened.push(ledger);
      await ledger.recordShare(makeShare(0, ledger.recordJob(makeJob(0))));
      // White-box: the setting is per session, so ask the writer's own connection.
      const writer = (ledger as unknown as { writer: { client: pg.Client } }).writer.client;
      expect((await writer.query('SHOW synchronous_commit')).rows).toEqual([{ synchronous_commit: 'on' }]);
    });
  });

  describe('PostgreSQL ledger: group commit', () => {
    test('shares beyond maxQueuedShares are refused at once; the ledger goes on', async () => {
      const ledger = await open(undefined, { maxQueuedShares: 10 });
      const jobId = ledger.recordJob(makeJob(1));
      const results = await Promise.allSettled(
        Array.from({ length: 15 }, (_, n) => ledger.recordShare(makeShare(n, jobId))),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(refused).toHaveLength(5);
      expect((refused[0]!.reason as LedgerError).code).toBe('LEDGER_COMMIT_FAILED');
      expect((refused[0]!.reason as LedgerError).message).toMatch(/10 shares are already waiting/);
      expect(ledger.stats().sharesRefused).toBe(5);
      expect(await ledger.recordShare(makeShare(20, jobId))).toBeGreaterThan(0);
    });
  });

  describe('PostgreSQL ledger: several instances, one schema', () => {
    test('ids never collide, every share lands once, and totals count all instances', async () => {
      const schema = server().freshSchema();
      await (await open(schema)).close();
      // Tiny blocks, so that the instances draw many and interleave.
      await sql(`ALTER SEQUENCE ${schema}.job_ids INCREMENT BY 3`);
      await sql(`ALTER SEQUENCE ${schema}.share_ids INCREMENT BY 7`);
      const instances = await Promise.all([open(schema), open(schema), open(schema)]);
      const recorded = await Promise.all(
        instances.map(async (ledger, i) => {
          const ids: number[] = [];
          for (let round = 0; round < 20; round++) {
            const jobId = ledger.recordJob(makeJob(i * 100 + round));
            const batch = Array.from({ length: 25 }, (_, n) =>
              ledger.recordShare(makeShare(i * 10_000 + round * 25 + n, jobId)),
            );
            ids.push(...(await Promise.all(batch)));
          }
          return ids;
        }),
      );
      const all = recorded.flat();
      expect(new Set(all).size).toBe(3 * 500);
      for (const ids of recorded) expect(ids).toEqual([...ids].sort((a, b) => a - b));
      const stored = await instances[0].shares(EVERYTHING);
      expect(stored.map((s) => s.id)).toEqual([...all].sort((a, b) => a - b));
      const totals = await instances[1].upstreamTotals(EVERYTHING);
      const accepted = totals.reduce((sum, t) => sum + (t.sharesByVerdict.accepted ?? 0), 0);
      expect(accepted).toBe(stored.filter((s) => s.verdict === 'accepted').length);
      expect(await sql(`SELECT count(*)::int AS n FROM ${schema}.jobs`)).toEqual([{ n: 60 }]);
    });
  });

  describe('PostgreSQL ledger: the same records give the same answers as SQLite', () => {
    test('shares, minerTotals and upstreamTotals agree exactly, difficulties of any value included', async () => {
      const [fields] = fc.sample(
        fc.array(
          fc.record({
            time: fc.integer({ min: 0, max: 100_000 }),
            miner: fc.constantFrom('alice', 'Bob', 'bob', 'émile', '5Grwva', '矿工', ''),
            worker: fc.constantFrom('rig1', 'rig2', 'Rig1', 'rig-⛏️', 'a b'),
            upstream: fc.constantFrom('X', 'Y', 'x', 'validator-1'),
            verdict: fc.constantFrom(...LOCAL_VERDICTS),
            upstreamVerdict: fc.constantFrom(...UPSTREAM_VERDICTS),
            assignedDifficulty: fc.oneof(
              fc.integer({ min: -10, max: 40 }).map((e) => 2 ** e),
              fc.integer({ min: 1, max: 1_000_000 }),
              fc.double({ min: 1e-6, max: 1e9, noNaN: true }),
            ),
          }),
          { minLength: 3000, maxLength: 3000 },
        ),
        { seed: 7, numRuns: 1 },
      );
      const sqlite = await openSqliteLedger(`${ledgerDir()}/same.sqlite`);
      opened.push(sqlite);
      const postgres = await open();
      const load = async (ledger: Ledger): Promise<number[]> => {
        const jobId = ledger.recordJob(makeJob(1));
        const records: ShareRecord[] = fields!.map((f, n) => makeShare(n, jobId, f));
        const ids = await Promise.all(records.map((r) => ledger.recordShare(r)));
        ids.forEach((shareId, n) => {
          if (n % 3 === 0) ledger.recordUpstreamVerdict({ shareId, verdict: 'rejected', error: `e${n}` });
        });
        await ledger.flush();
        return ids;
      };
      expect(await load(postgres)).toEqual(await load(sqlite));
      expect(await postgres.shares(EVERYTHING)).toEqual(await sqlite.shares(EVERYTHING));

      const windows: TimeWindow[] = [
        EVERYTHING,
        ...fc.sample(
          fc
            .tuple(fc.integer({ min: -1000, max: 100_000 }), fc.integer({ min: 1, max: 50_000 }))
            .map(([from, length]) => ({
              from: 1_700_000_000_000 + from,
              to: 1_700_000_000_000 + from + length,
            })),
          { seed: 8, numRuns: 40 },
        ),
      ];
      for (const window of windows) {
        expect(await postgres.minerTotals(window)).toEqual(await sqlite.minerTotals(window));
        expect(await postgres.upstreamTotals(window)).toEqual(await sqlite.upstreamTotals(window));
      }
    });
  });

  describe('PostgreSQL ledger: a lost connection is retried, and nothing lands twice', () => {
    /** The writer's server process: the one whose last statement was a commit. */
    async function writerPid(schema: string): Promise<number | undefined> {
      const rows = await sql<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE application_name = 'hashrelay-ledger' AND query LIKE $1`,
        [`%INSERT INTO ${schema}.shares%`],
      );
      return rows[0]?.pid;
    }

    test('the writer connection is killed again and again while shares stream in', async () => {
      const schema = server().freshSchema();
      const ledger = await open(schema);
      const jobId = ledger.recordJob(makeJob(1));
      const acknowledged = new Set<number>();
      let next = 0;
      let stop = false;
      const lane = async (): Promise<void> => {
        while (!stop) acknowledged.add(await ledger.recordShare(makeShare(next++, jobId)));
      };
      const lanes = Array.from({ length: 32 }, lane);
      for (let kill = 0; kill < 5; kill++) {
        await vi.waitFor(
          () => {
            expect(acknowledged.size).toBeGreaterThan(kill * 500 + 200);
          },
          { timeout: 20_000 },
        );
        const pid = await vi.waitFor(
          async () => {
            const found = await writerPid(schema);
            expect(found).toBeDefined();
            return found!;
          },
          { timeout: 10_000 },
        );
        await sql('SELECT pg_terminate_backend($1)', [pid]);
      }
      await vi.waitFor(
        () => {
          expect(ledger.stats().reconnects).toBeGreaterThanOrEqual(5);
        },
        { timeout: 20_000 },
      );
      stop = true;
      await Promise.all(lanes);
      await ledger.close();

      const stored = await sql<{ id: string }>(`SELECT id FROM ${schema}.shares ORDER BY id`); // bigint as text
      expect(stored.map((r) => Number(r.id))).toEqual([...acknowledged].sort((a, b) => a - b));
      expect(stored).toHaveLength(next);
    });

    test('a commit blocked on a lock and then cut off is found not to have landed, and is sent again', async () => {
      const schema = server().freshSchema();
      const ledger = await open(schema);
      const jobId = ledger.recordJob(makeJob(1));
      await ledger.recordShare(makeShare(0, jobId));

      const locker = await server().connect();
      try {
        await locker.query('BEGIN');
        // EXCLUSIVE blocks the commit's INSERT but not the SELECT that checks for it.
        await locker.query(`LOCK TABLE ${schema}.shares IN EXCLUSIVE MODE`);
        const pending = Array.from({ length: 20 }, (_, n) => ledger.recordShare(makeShare(n + 1, jobId)));
        const blocked = await vi.waitFor(
          async () => {
            const rows = await sql<{ pid: number }>(
              `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
              [`%INSERT INTO ${schema}.shares%`],
            );
            expect(rows).toHaveLength(1);
            return rows[0]!.pid;
          },
          { timeout: 10_000 },
        );
        await sql('SELECT pg_terminate_backend($1)', [blocked]);
        await locker.query('COMMIT');
        const ids = await Promise.all(pending);
        expect(ledger.stats()).toMatchObject({ landedOnRetry: 0, sharesCommitted: 21 });
        expect(ledger.stats().commitRetries).toBeGreaterThanOrEqual(1);
        const stored = await ledger.shares(EVERYTHING);
        expect(stored.map((s) => s.id).slice(1)).toEqual(ids);
      } finally {
        await locker.end();
      }
    });

    test('a commit whose answer is lost is found to have landed, and is not sent again', async () => {
      const relay = await AnswerDropper.start(server().url);
      try {
        const schema = server().freshSchema();
        const ledger = await openPgLedger(relay.url, { schema });
        opened.push(ledger);
        const jobId = ledger.recordJob(makeJob(1));
        await ledger.recordShare(makeShare(0, jobId));

        relay.dropNextCommitAnswer = true;
        const ids = await Promise.all(
          Array.from({ length: 20 }, (_, n) => ledger.recordShare(makeShare(n + 1, jobId))),
        );
        expect(relay.dropped).toBe(1);
        expect(ledger.stats()).toMatchObject({ landedOnRetry: 1, reconnects: 1 });
        const stored = await ledger.shares(EVERYTHING);
        expect(stored).toHaveLength(21);
        expect(stored.map((s) => s.id).slice(1)).toEqual(ids);
      } finally {
        await relay.close();
      }
    });
  });

  const binaries = findPostgresBinaries();
  const OWN_SERVER = `PostgreSQL ledger: a server of its own${skipNote(binaries === undefined ? 'PostgreSQL installed (apt-get install postgresql)' : null)}`;
  describe.skipIf(binaries === undefined)(OWN_SERVER, () => {
    let own: TestPostgres | undefined;
    afterAll(async () => {
      await own?.release();
    });
    async function cluster(): Promise<{ own: TestPostgres; cluster: ThrowawayCluster }> {
      if (own === undefined) {
        const started = await ThrowawayCluster.start();
        own = usePostgres(started.url, `a throwaway cluster in ${started.dir}`, started);
      }
      return { own, cluster: own.cluster! };
    }

    test('the server crashes mid-stream: every acknowledged share survives, and recording resumes', async () => {
      const { own, cluster: server } = await cluster();
      const schema = own.freshSchema();
      const ledger = await openPgLedger(own.url, { schema });
      opened.push(ledger);
      const jobId = ledger.recordJob(makeJob(1));
      const acknowledged = new Map<number, number>();
      let next = 0;
      let stop = false;
      const lane = async (): Promise<void> => {
        while (!stop) {
          const n = next++;
          acknowledged.set(await ledger.recordShare(makeShare(n, jobId)), n);
        }
      };
      const lanes = Array.from({ length: 64 }, lane);
      await vi.waitFor(
        () => {
          expect(acknowledged.size).toBeGreaterThan(3000);
        },
        { timeout: 20_000 },
      );
      await server.stop('immediate');
      const beforeRestart = acknowledged.size;
      await server.start();
      await vi.waitFor(
        () => {
          expect(acknowledged.size).toBeGreaterThan(beforeRestart + 3000);
        },
        { timeout: 30_000 },
      );
      stop = true;
      await Promise.all(lanes);
      expect(ledger.stats().reconnects).toBeGreaterThanOrEqual(1);

      const stored = new Map((await ledger.shares(EVERYTHING)).map((share) => [share.id, share]));
      expect([...acknowledged.keys()].filter((id) => !stored.has(id))).toEqual([]);
      expect(stored.size).toBe(acknowledged.size);
      for (const [id, n] of acknowledged) {
        expect(stored.get(id)).toEqual({ id, upstreamError: null, ...makeShare(n, jobId) });
      }
    });

    test('a server running with fsync = off is refused', async () => {
      const { own } = await cluster();
      const admin = await own.connect();
      try {
        await admin.query('ALTER SYSTEM SET fsync = off');
        await admin.query('SELECT pg_reload_conf()');
        await vi.waitFor(async () => {
          expect((await admin.query('SHOW fsync')).rows).toEqual([{ fsync: 'off' }]);
        });
        const error = await ledgerError(
          openPgLedger(own.url, { schema: own.freshSchema() }),
          'LEDGER_OPEN_FAILED',
        );
        expect(error.message).toMatch(/runs with fsync = off.*set fsync = on in postgresql.conf/);
      } finally {
        await admin.query('ALTER SYSTEM RESET fsync');
        await admin.query('SELECT pg_reload_conf()');
        await admin.end();
      }
    });
  });
});

/**
 * A TCP relay in front of the server that can swallow the answer to one commit and cut the
 * connection, as a network failure right after the server committed would: the client cannot
 * know whether its batch landed.
 */
class AnswerDropper {
  dropNextCommitAnswer = false;
  dropped = 0;
  /** The server's URL through the relay. */
  url = '';
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  private constructor(destination: { path: string } | { host: string; port: number }) {
    this.server = createServer((client) => {
      this.pipe(client, connectSocket(destination));
    });
  }

  static async start(target: string): Promise<AnswerDropper> {
    const parameters = (
      new pg.Client({ connectionString: target }) as unknown as {
        connectionParameters: {
          host: string;
          port: number;
          user: string;
          password?: string;
          database: string;
        };
      }
    ).connectionParameters;
    const relay = new AnswerDropper(
      parameters.host.startsWith('/')
        ? { path: `${parameters.host}/.s.PGSQL.${parameters.port}` }
        : { host: parameters.host, port: parameters.port },
    );
    await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve));
    const port = (relay.server.address() as { port: number }).port;
    const credentials =
      encodeURIComponent(parameters.user) +
      (parameters.password === undefined ? '' : `:${encodeURIComponent(parameters.password)}`);
    relay.url = `postgresql://${credentials}@127.0.0.1:${port}/${parameters.database}`;
    return relay;
  }

  private pipe(client: Socket, upstream: Socket): void {
    this.sockets.add(client).add(upstream);
    let cutAfterAnswer = false;
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      if (this.dropNextCommitAnswer && chunk.includes('hashrelay_ledger_commit')) {
        this.dropNextCommitAnswer = false;
        cutAfterAnswer = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (cutAfterAnswer) {
        // The server has committed and answered; the client never hears it.
        this.dropped++;
        close();
        return;
      }
      client.write(chunk);
    });
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }
}
