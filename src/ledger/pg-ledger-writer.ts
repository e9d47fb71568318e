import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { JOB_COLUMNS, REJECT_SUMMARY_COLUMNS, SHARE_COLUMNS } from './ledger-rows.js';
import type { PgBatch } from './pg-ledger-batch.js';
import {
  ConnectionLost,
  isRetryable,
  SessionRefused,
  sqlState,
  type PgLocation,
} from './pg-ledger-connection.js';
import { migrate } from './pg-ledger-schema.js';

/**
 * The ledger's one writing connection: commits a batch in one statement, and when the
 * connection fails, connects again and retries until it is sure the batch is in the database
 * exactly once. The ledger above gives up (and fails) when its commit timeout passes.
 *
 * A connection can fail after the server committed but before the answer arrived. Before a
 * retry, the writer ends the server process that ran the earlier attempt (so its transaction
 * is settled one way or the other) and looks for the batch's first record, which carries an id
 * only this batch uses: if it is there the batch committed and is not sent again.
 */

export interface WriterSettings {
  /** One attempt running longer than this is given up as a lost connection, and retried. */
  readonly attemptTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

/** The server process behind a connection, as pg_stat_activity names it. */
interface Backend {
  readonly pid: number;
  /** backend_start as text: with the pid, it tells this process from a later one given the same pid. */
  readonly started: string;
}

/** How long a retry waits for the earlier attempt's server process to exit. */
const TERMINATE_WAIT_MS = 5000;

export class PgWriter {
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;
  private backend: Backend | null = null;
  private stopped = false;
  private readonly abort = new AbortController();
  private readonly commitName: string;
  private readonly commitText: string;
  private readonly counters = { reconnects: 0, retries: 0, landedOnRetry: 0 };
  /** The error of the latest failed attempt, for the message if the ledger gives up. */
  lastError: unknown = null;

  constructor(
    private readonly location: PgLocation,
    private readonly settings: WriterSettings,
  ) {
    this.commitName = `hashrelay_ledger_commit_${location.schema}`;
    this.commitText = commitStatement(location.schema);
  }

  get stats(): { readonly reconnects: number; readonly retries: number; readonly landedOnRetry: number } {
    return { ...this.counters };
  }

  /** Connects (checking the server keeps commits durable) and creates or migrates the schema. */
  async open(): Promise<void> {
    const client = await this.connected();
    await migrate(client, this.location.schema, this.location.database);
  }

  /** Commits the batch; retries what may succeed on another connection; rejects with what will not. */
  async commit(batch: PgBatch): Promise<void> {
    const values = batch.parameters();
    const marker = batch.marker();
    /** The server process an earlier attempt was sent to without an answer, if any. */
    let unanswered: Backend | null = null;
    for (let attempt = 1; ; attempt++) {
      this.throwIfStopped();
      let sentTo: Backend | null = null;
      let client: pg.Client | null = null;
      try {
        client = await this.connected();
        if (unanswered !== null) {
          const landed = await this.landed(client, unanswered, marker);
          if (landed) {
            this.counters.landedOnRetry++;
            return;
          }
          unanswered = null;
        }
        sentTo = this.backend;
        await this.answered(client, client.query({ name: this.commitName, text: this.commitText, values }));
        return;
      } catch (error) {
        this.throwIfStopped();
        this.lastError = error;
        // A duplicate id on a retry: the earlier attempt committed after all (seen once it settled).
        const duplicate = attempt > 1 && sqlState(error) === '23505';
        if (!duplicate && !isRetryable(error)) throw error;
        // Even an error from the server (being shut down, say) may follow a commit: look before resending.
        if (sentTo !== null) unanswered = sentTo;
        if (!duplicate && client !== null) this.discard(client);
        this.counters.retries++;
        await delay(Math.min(50 * 2 ** (attempt - 1), 2000), undefined, { signal: this.abort.signal });
      }
    }
  }

  /** Ends the connection gracefully (the ledger has flushed). */
  async close(): Promise<void> {
    this.stopped = true;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  /** Stops at once: a commit under way is abandoned (it rejects) and the connection dropped. */
  stop(): void {
    this.stopped = true;
    this.abort.abort();
    if (this.client !== null) this.discard(this.client);
  }

  private throwIfStopped(): void {
    if (this.stopped) throw new Error('the ledger writer was stopped');
  }

  /** The open connection, or a new one (one at a time). */
  private connected(): Promise<pg.Client> {
    if (this.client !== null) return Promise.resolve(this.client);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async connect(): Promise<pg.Client> {
    const first = this.backend === null;
    const client = new pg.Client({
      ...this.location.config,
      connectionTimeoutMillis: this.settings.connectTimeoutMs,
    });
    // Without a listener, an idle connection's error would be thrown as an uncaught exception.
    client.on('error', () => {
      if (this.client === client) this.client = null;
    });
    client.on('end', () => {
      if (this.client === client) this.client = null;
    });
    try {
      await client.connect();
      this.backend = await prepareSession(client, `PostgreSQL ${this.location.database}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      throw new Error('the ledger writer was stopped');
    }
    if (!first) this.counters.reconnects++;
    this.client = client;
    return client;
  }

  /** Rejects with ConnectionLost (and drops the connection) if no answer comes in time. */
  private async answered<T>(client: pg.Client, request: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new ConnectionLost(
            `PostgreSQL ${this.location.where} did not answer a commit within ${this.settings.attemptTimeoutMs} ms`,
          ),
        );
        this.discard(client);
      }, this.settings.attemptTimeoutMs);
    });
    try {
      return await Promise.race([request, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Whether the batch an unanswered attempt carried is in the database. First ends that
   * attempt's server process (waiting for it to exit), so that it cannot commit later.
   */
  private async landed(
    client: pg.Client,
    unanswered: Backend,
    marker: ReturnType<PgBatch['marker']>,
  ): Promise<boolean> {
    if (unanswered.pid !== this.backend?.pid) {
      await client
        .query(
          `SELECT pg_terminate_backend(pid, $3) FROM pg_stat_activity
           WHERE pid = $1 AND backend_start = $2::timestamptz`,
          [unanswered.pid, unanswered.started, TERMINATE_WAIT_MS],
        )
        .catch(() => undefined); // then a late commit shows as a duplicate id on the retry
    }
    if (marker === null) return false; // verdict updates alone: applying them again is harmless
    const { rows } = await client.query<{ found: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM ${this.location.schema}.${marker.table} WHERE id = $1) AS found`,
      [marker.id],
    );
    return rows[0]?.found === true;
  }

  private discard(client: pg.Client): void {
    if (this.client === client) this.client = null;
    // end() destroys the socket when a request is under way, and that request rejects.
    void client.end().catch(() => undefined);
  }
}

/**
 * Checks that a commit on this connection is durable, and makes it so where a session can:
 * `synchronous_commit = off` (set for the server, database or role) would acknowledge a
 * commit before its WAL reaches the disk, so the session sets it back on. `fsync = off` cannot
 * be fixed from a session, and a standby cannot take writes.
 */
async function prepareSession(client: pg.Client, where: string): Promise<Backend> {
  const { rows } = await client.query<{
    version: number;
    fsync: string;
    synchronous_commit: string;
    standby: boolean;
    pid: number;
    started: string;
  }>(
    `SELECT current_setting('server_version_num')::int AS version,
            current_setting('fsync') AS fsync,
            current_setting('synchronous_commit') AS synchronous_commit,
            pg_is_in_recovery() AS standby,
            pg_backend_pid() AS pid,
            (SELECT backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()) AS started`,
  );
  const session = rows[0]!;
  if (session.version < 140000) {
    throw new SessionRefused(
      `${where} runs PostgreSQL ${session.version}; the ledger needs PostgreSQL 14 or newer`,
    );
  }
  if (session.fsync !== 'on') {
    throw new SessionRefused(
      `${where} runs with fsync = off, so a commit may be lost on a crash and the ledger could ` +
        'acknowledge shares it then loses: set fsync = on in postgresql.conf and reload the server',
    );
  }
  if (session.standby) {
    throw new SessionRefused(
      `${where} is a standby (read-only); point the ledger at the primary`,
      '25006', // retried during a failover, until the address reaches the new primary
    );
  }
  if (session.synchronous_commit === 'off') await client.query('SET synchronous_commit = on');
  return { pid: session.pid, started: session.started };
}

/**
 * One statement commits a whole batch, in one round trip and one implicit transaction: each
 * column arrives as one array (in ledger-rows.ts order) and is unnested into rows. Jobs and
 * shares are inserted by two data-modifying CTEs of the same statement, and the foreign key is
 * checked at its end, when both are in. Verdict updates concern shares committed by earlier
 * batches (an id exists only once its share has committed).
 */
function commitStatement(s: string): string {
  return `
  WITH new_jobs AS (
    INSERT INTO ${s}.jobs (${JOB_COLUMNS})
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
      $7::bytea[], $8::bytea[], $9::bytea[], $10::bytea[], $11::bigint[], $12::bigint[], $13::bigint[],
      $14::boolean[], $15::bytea[], $16::smallint[])
  ), new_shares AS (
    INSERT INTO ${s}.shares (${SHARE_COLUMNS})
    SELECT * FROM unnest($17::bigint[], $18::bigint[], $19::text[], $20::text[], $21::text[], $22::text[],
      $23::bigint[], $24::bytea[], $25::bigint[], $26::bigint[], $27::bigint[], $28::numeric[],
      $29::float8[], $30::bytea[], $31::text[], $32::text[], $33::boolean[])
  ), verdicts AS (
    UPDATE ${s}.shares SET upstream_verdict = v.verdict, upstream_error = v.error
    FROM unnest($34::bigint[], $35::text[], $36::text[]) AS v (id, verdict, error)
    WHERE shares.id = v.id
  ), new_summaries AS (
    INSERT INTO ${s}.reject_summaries (${REJECT_SUMMARY_COLUMNS})
    SELECT * FROM unnest($37::bigint[], $38::bigint[], $39::text[], $40::text[], $41::text[], $42::text[],
      $43::bigint[])
  )
  SELECT 1`;
}
