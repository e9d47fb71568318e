import type { ClientBase } from 'pg';
import { LedgerError } from './ledger-error.js';
import { LOCAL_VERDICTS, REJECTED_VERDICTS, UPSTREAM_VERDICTS } from './verdicts.js';

/** What `meta.application` holds in a hashrelay ledger schema. */
export const APPLICATION = 'hashrelay-ledger';
/** The advisory lock class of ledger migrations: ASCII "hrlg", as SQLite's application_id. */
const MIGRATION_LOCK_CLASS = 0x68726c67;

const sqlList = (values: readonly string[]): string => values.map((v) => `'${v}'`).join(', ');

/**
 * `MIGRATIONS[n]` takes a ledger schema from version n to n + 1 (the PostgreSQL counterpart of
 * SQLite's `user_version` is `meta.schema_version`). Append; never edit a migration that has
 * shipped. Columns mirror sqlite-ledger-schema.ts: times are integer milliseconds since the
 * epoch, u32 fields bigint, hashes and coinbase parts bytea in internal byte order. Differences,
 * each for a reason:
 * - names are `COLLATE "C"`, so grouping and ordering compare bytes as SQLite's BINARY does;
 * - `assigned_difficulty` is numeric, holding the exact value of the JavaScript double, so that
 *   window sums are exact whatever order rows are added in (float8 → numeric casts round);
 * - ids are drawn client-side in blocks from the two sequences (pg-ledger-ids.ts): each
 *   `nextval` is the first id of a block of INCREMENT ids that only the drawing instance uses.
 *   Never change a sequence's INCREMENT while any ledger has the schema open.
 */
const MIGRATIONS: readonly ((schema: string) => string)[] = [
  (s) => `
  CREATE TABLE ${s}.meta (
    application    text    PRIMARY KEY CHECK (application = '${APPLICATION}'),
    schema_version integer NOT NULL
  );

  CREATE SEQUENCE ${s}.job_ids AS bigint INCREMENT BY 1000 MINVALUE 1 MAXVALUE 9007199254740991 START WITH 1;
  CREATE SEQUENCE ${s}.share_ids AS bigint INCREMENT BY 100000 MINVALUE 1 MAXVALUE 9007199254740991 START WITH 1;

  CREATE TABLE ${s}.jobs (
    id               bigint   PRIMARY KEY,
    received_at      bigint   NOT NULL,
    upstream         text     COLLATE "C" NOT NULL,
    upstream_session text     COLLATE "C" NOT NULL,
    upstream_job_id  text     COLLATE "C" NOT NULL,
    proxy_job_id     text     COLLATE "C" NOT NULL,
    prevhash         bytea    NOT NULL CHECK (length(prevhash) = 32),
    coinb1           bytea    NOT NULL,
    coinb2           bytea    NOT NULL,
    -- the branch's 32-byte hashes, concatenated in the order the job lists them
    merkle_branch    bytea    NOT NULL CHECK (length(merkle_branch) % 32 = 0),
    version          bigint   NOT NULL CHECK (version BETWEEN 0 AND 4294967295),
    nbits            bigint   NOT NULL CHECK (nbits BETWEEN 0 AND 4294967295),
    ntime            bigint   NOT NULL CHECK (ntime BETWEEN 0 AND 4294967295),
    clean_jobs       boolean  NOT NULL,
    extranonce1      bytea    NOT NULL,
    extranonce2_size smallint NOT NULL CHECK (extranonce2_size BETWEEN 0 AND 255)
  );

  CREATE TABLE ${s}.shares (
    id                  bigint  PRIMARY KEY,
    time                bigint  NOT NULL,
    miner               text    COLLATE "C" NOT NULL,
    worker              text    COLLATE "C" NOT NULL,
    upstream            text    COLLATE "C" NOT NULL,
    upstream_session    text    COLLATE "C" NOT NULL,
    job_id              bigint  REFERENCES ${s}.jobs (id),
    extranonce2         bytea   NOT NULL CHECK (length(extranonce2) <= 255),
    ntime               bigint  NOT NULL CHECK (ntime BETWEEN 0 AND 4294967295),
    nonce               bigint  NOT NULL CHECK (nonce BETWEEN 0 AND 4294967295),
    version_bits        bigint  CHECK (version_bits BETWEEN 0 AND 4294967295),
    assigned_difficulty numeric NOT NULL CHECK (assigned_difficulty >= 0),
    share_difficulty    double precision CHECK (share_difficulty >= 0),
    hash                bytea   CHECK (length(hash) = 32),
    verdict             text    COLLATE "C" NOT NULL CHECK (verdict IN (${sqlList(LOCAL_VERDICTS)})),
    upstream_verdict    text    COLLATE "C" NOT NULL CHECK (upstream_verdict IN (${sqlList(UPSTREAM_VERDICTS)})),
    upstream_error      text,
    is_block            boolean NOT NULL
  );

  -- window aggregates: all shares, per miner, per upstream
  CREATE INDEX shares_time ON ${s}.shares (time);
  CREATE INDEX shares_miner_time ON ${s}.shares (miner, time);
  CREATE INDEX shares_upstream_time ON ${s}.shares (upstream, time);
  `,
  // A proof of work is credited once, as in sqlite-ledger-schema.ts. The trigger marks a copy
  // a duplicate (rows of the same batch included: a row trigger sees the rows its statement
  // inserted before it); the unique index settles two instances committing one proof at once.
  (s) => `
  UPDATE ${s}.shares SET verdict = 'duplicate'
   WHERE verdict = 'accepted'
     AND id NOT IN (SELECT min(id) FROM ${s}.shares WHERE verdict = 'accepted' GROUP BY hash);
  CREATE UNIQUE INDEX shares_credited_hash ON ${s}.shares (hash) WHERE verdict = 'accepted';
  CREATE FUNCTION ${s}.credit_once() RETURNS trigger LANGUAGE plpgsql VOLATILE AS $$
  BEGIN
    IF NEW.verdict = 'accepted' AND EXISTS (
      SELECT 1 FROM ${s}.shares WHERE verdict = 'accepted' AND hash = NEW.hash AND id <> NEW.id
    ) THEN
      NEW.verdict := 'duplicate';
    END IF;
    RETURN NEW;
  END $$;
  CREATE TRIGGER shares_credit_once BEFORE INSERT ON ${s}.shares
    FOR EACH ROW EXECUTE FUNCTION ${s}.credit_once();
  `,
  // Rejected shares past a connection's budget, counted per interval instead of one row each.
  (s) => `
  CREATE TABLE ${s}.reject_summaries (
    id           bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    period_start bigint  NOT NULL,
    period_end   bigint  NOT NULL CHECK (period_end >= period_start),
    miner        text    COLLATE "C" NOT NULL,
    worker       text    COLLATE "C" NOT NULL,
    upstream     text    COLLATE "C" NOT NULL,
    verdict      text    COLLATE "C" NOT NULL CHECK (verdict IN (${sqlList(REJECTED_VERDICTS)})),
    shares       bigint  NOT NULL CHECK (shares > 0)
  );

  CREATE INDEX reject_summaries_start ON ${s}.reject_summaries (period_start);
  `,
  // Retention (pruneBefore) deletes old jobs no share names: finding them, and the foreign key
  // check each delete makes, look shares up by job; old jobs are found by when they arrived.
  (s) => `
  CREATE INDEX IF NOT EXISTS shares_job ON ${s}.shares (job_id);
  CREATE INDEX IF NOT EXISTS jobs_received_at ON ${s}.jobs (received_at);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Lower case, digits and underscores: safe to write into SQL unquoted, and the same in every tool. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) {
    throw new RangeError(
      `ledger schema '${schema}' must be 1-63 of a-z 0-9 _ and not start with a digit, e.g. hashrelay`,
    );
  }
}

/**
 * Creates the schema and its tables in an empty place, or brings an older ledger up to date,
 * in one transaction under an advisory lock, so that instances starting together migrate once.
 * `where` names the database for messages (no password).
 */
export async function migrate(client: ClientBase, schema: string, where: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK_CLASS, schema]);
    const version = await currentVersion(client, schema, where);
    if (version < SCHEMA_VERSION) {
      if (version === 0) await createSchema(client, schema);
      for (const migration of MIGRATIONS.slice(version)) await client.query(migration(schema));
      await client.query(
        `INSERT INTO ${schema}.meta (application, schema_version) VALUES ($1, $2)
         ON CONFLICT (application) DO UPDATE SET schema_version = excluded.schema_version`,
        [APPLICATION, SCHEMA_VERSION],
      );
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** 0 for a schema that is absent or empty; refuses one that holds something else or is newer. */
export async function currentVersion(client: ClientBase, schema: string, where: string): Promise<number> {
  const meta = await client.query<{ present: boolean; relations: number }>(
    `SELECT to_regclass($1) IS NOT NULL AS present,
            (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $2) AS relations`,
    [`${schema}.meta`, schema],
  );
  const { present, relations } = meta.rows[0]!;
  if (!present) {
    if (relations === 0) return 0;
    throw new LedgerError(
      'LEDGER_OPEN_FAILED',
      `schema ${schema} in ${where} holds tables but is not a hashrelay ledger (no ${schema}.meta); ` +
        'give the ledger a schema of its own (?schema=NAME in the URL)',
    );
  }
  const rows = await client.query<{ application: string; schema_version: number }>(
    `SELECT application, schema_version FROM ${schema}.meta`,
  );
  const row = rows.rows[0];
  if (row?.application !== APPLICATION) {
    throw new LedgerError(
      'LEDGER_OPEN_FAILED',
      `${schema}.meta in ${where} does not describe a hashrelay ledger; give the ledger a schema of its own`,
    );
  }
  if (row.schema_version > SCHEMA_VERSION) {
    throw new LedgerError(
      'LEDGER_OPEN_FAILED',
      `schema ${schema} in ${where} has ledger schema version ${row.schema_version}, newer than this ` +
        `hashrelay's ${SCHEMA_VERSION}; run a hashrelay at least as new as the one that wrote it`,
    );
  }
  return row.schema_version;
}

/** CREATE SCHEMA IF NOT EXISTS still needs CREATE on the database; a schema made by the DBA does not. */
async function createSchema(client: ClientBase, schema: string): Promise<void> {
  const found = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  if (found.rowCount === 0) await client.query(`CREATE SCHEMA ${schema}`);
}
