import { execFile } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

/**
 * A PostgreSQL for tests and benchmarks: the server HASHRELAY_TEST_POSTGRES_URL names (.ci/run
 * starts one), or else a throwaway cluster started here from the installed binaries (Debian's
 * `postgresql` package), listening only on a Unix socket in a temporary directory. Each test
 * takes a schema of its own, so tests sharing a server never see each other's records.
 */

export const POSTGRES_URL_VARIABLE = 'HASHRELAY_TEST_POSTGRES_URL';

/** What to do when there is no PostgreSQL, for a skipped suite's message. */
export const HOW_TO_ENABLE =
  `set ${POSTGRES_URL_VARIABLE}=postgres://USER:PASSWORD@HOST:PORT/DATABASE (a role that may create ` +
  'schemas), or install PostgreSQL (apt-get install postgresql) so the tests can start their own';

const run = promisify(execFile);

/** The directory holding initdb and pg_ctl, newest version first; undefined if none is installed. */
export function findPostgresBinaries(): string | undefined {
  const candidates: string[] = [];
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((version) => join(debian, version, 'bin')));
  }
  for (const dir of (process.env['PATH'] ?? '').split(':')) if (dir !== '') candidates.push(dir);
  return candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')));
}

/**
 * A cluster of its own in a temporary directory: trust authentication for the role `hashrelay`,
 * no TCP, fsync on (the ledger refuses a server that would lose commits). As root, the server
 * runs as the `postgres` user, since PostgreSQL refuses to run as root.
 */
export class ThrowawayCluster {
  readonly url: string;
  private readonly data: string;

  private constructor(
    private readonly bin: string,
    readonly dir: string,
  ) {
    this.data = join(dir, 'data');
    this.url = `postgresql://hashrelay@/postgres?host=${encodeURIComponent(dir)}&port=5432`;
  }

  /** Starts a cluster in a new directory under `parent` (whose disk its commits then wait for). */
  static async start(parent = tmpdir()): Promise<ThrowawayCluster> {
    const bin = findPostgresBinaries();
    if (bin === undefined) throw new Error(`no PostgreSQL binaries found: ${HOW_TO_ENABLE}`);
    const dir = mkdtempSync(join(parent, 'hashrelay-pg-'));
    const cluster = new ThrowawayCluster(bin, dir);
    try {
      if (userInfo().uid === 0) {
        const { stdout } = await run('id', ['-u', 'postgres']);
        const { stdout: gid } = await run('id', ['-g', 'postgres']);
        chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
      }
      // --no-sync: the cluster's initial files need not survive a power cut, only its commits.
      await cluster.as('initdb', [
        '-D',
        cluster.data,
        '-U',
        'hashrelay',
        '--auth=trust',
        '-E',
        'UTF8',
        '--locale=C.UTF-8',
        '--no-sync',
      ]);
      appendFileSync(
        join(cluster.data, 'postgresql.conf'),
        `\nlisten_addresses = ''\nunix_socket_directories = '${dir}'\nport = 5432\nfsync = on\n`,
      );
      await cluster.start();
      return cluster;
    } catch (error) {
      await cluster.remove();
      throw error;
    }
  }

  async start(): Promise<void> {
    await this.as('pg_ctl', ['-D', this.data, '-l', join(this.dir, 'server.log'), '-w', '-t', '60', 'start']);
  }

  /** `immediate` is a crash as far as the data is concerned: no checkpoint, recovery from the WAL at the next start. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.as('pg_ctl', ['-D', this.data, '-m', mode, '-w', '-t', '60', 'stop']);
  }

  /** Stops the server if it runs, and deletes the directory. */
  async remove(): Promise<void> {
    if (existsSync(join(this.data, 'postmaster.pid'))) await this.stop('immediate').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async as(program: string, args: readonly string[]): Promise<void> {
    const path = join(this.bin, program);
    if (userInfo().uid === 0)
      await run('runuser', ['-u', 'postgres', '--', path, ...args], { cwd: this.dir });
    else await run(path, args, { cwd: this.dir });
  }
}

export interface TestPostgres {
  /** The database, without a schema. */
  readonly url: string;
  /** Where it came from, for the test log. */
  readonly source: string;
  /** The cluster, when this process started it (tests may stop and restart it). */
  readonly cluster: ThrowawayCluster | null;
  /** A schema name no other test uses; dropped by `release`. */
  freshSchema(): string;
  /** The URL of the database with `?schema=` set. */
  urlFor(schema: string): string;
  /** A plain connection to the database, for looking behind the ledger's back. */
  connect(): Promise<pg.Client>;
  /** Drops every schema freshSchema made, and stops the cluster if it is ours. */
  release(): Promise<void>;
}

/**
 * The PostgreSQL this test run uses, or the reason there is none. Starts a throwaway cluster
 * when no URL is given and the binaries are installed.
 */
export async function testPostgres(): Promise<TestPostgres | string> {
  const given = process.env[POSTGRES_URL_VARIABLE];
  if (given !== undefined && given !== '') return usePostgres(given, POSTGRES_URL_VARIABLE, null);
  if (findPostgresBinaries() === undefined) return `no PostgreSQL: ${HOW_TO_ENABLE}`;
  const cluster = await ThrowawayCluster.start();
  return usePostgres(cluster.url, `a throwaway cluster in ${cluster.dir}`, cluster);
}

export function usePostgres(url: string, source: string, cluster: ThrowawayCluster | null): TestPostgres {
  const schemas: string[] = [];
  let serial = 0;
  const prefix = `t${process.pid}_${Date.now().toString(36)}`;
  const connect = async (): Promise<pg.Client> => {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  return {
    url,
    source,
    cluster,
    freshSchema: () => {
      const schema = `${prefix}_${serial++}`;
      schemas.push(schema);
      return schema;
    },
    urlFor: (schema) => `${url}${url.includes('?') ? '&' : '?'}schema=${schema}`,
    connect,
    release: async () => {
      if (cluster !== null) {
        await cluster.remove();
        return;
      }
      const client = await connect();
      try {
        for (const schema of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
