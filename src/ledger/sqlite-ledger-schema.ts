import type { Database } from 'better-sqlite3';
import { NEWER_SCHEMA, NOT_A_LEDGER, ThreadFailure } from './sqlite-ledger-protocol.js';
import { LOCAL_VERDICTS, REJECTED_VERDICTS, UPSTREAM_VERDICTS } from './verdicts.js';

/** `PRAGMA application_id` of a hashrelay ledger: ASCII "hrlg". */
export const APPLICATION_ID = 0x68726c67;

const sqlList = (values: readonly string[]): string => values.map((v) => `'${v}'`).join(', ');

/**
 * `MIGRATIONS[n]` takes a ledger from schema version n to n + 1 (`PRAGMA user_version`).
 * Append; never edit a migration that has shipped. Times are integer milliseconds since the
 * epoch; u32 fields are integers; hashes and coinbase parts are BLOBs in internal byte order.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    received_at      INTEGER NOT NULL,
    upstream         TEXT    NOT NULL,
    upstream_session TEXT    NOT NULL,
    upstream_job_id  TEXT    NOT NULL,
    proxy_job_id     TEXT    NOT NULL,
    prevhash         BLOB    NOT NULL CHECK (length(prevhash) = 32),
    coinb1           BLOB    NOT NULL,
    coinb2           BLOB    NOT NULL,
    -- the branch's 32-byte hashes, concatenated in the order the job lists them
    merkle_branch    BLOB    NOT NULL CHECK (length(merkle_branch) % 32 = 0),
    version          INTEGER NOT NULL CHECK (version BETWEEN 0 AND 4294967295),
    nbits            INTEGER NOT NULL CHECK (nbits BETWEEN 0 AND 4294967295),
    ntime            INTEGER NOT NULL CHECK (ntime BETWEEN 0 AND 4294967295),
    clean_jobs       INTEGER NOT NULL CHECK (clean_jobs IN (0, 1)),
    extranonce1      BLOB    NOT NULL,
    extranonce2_size INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE shares (
    id                  INTEGER PRIMARY KEY,
    time                INTEGER NOT NULL,
    miner               TEXT    NOT NULL,
    worker              TEXT    NOT NULL,
    upstream            TEXT    NOT NULL,
    upstream_session    TEXT    NOT NULL,
    job_id              INTEGER REFERENCES jobs (id),
    extranonce2         BLOB    NOT NULL,
    ntime               INTEGER NOT NULL CHECK (ntime BETWEEN 0 AND 4294967295),
    nonce               INTEGER NOT NULL CHECK (nonce BETWEEN 0 AND 4294967295),
    version_bits        INTEGER CHECK (version_bits BETWEEN 0 AND 4294967295),
    assigned_difficulty REAL    NOT NULL CHECK (assigned_difficulty >= 0),
    share_difficulty    REAL,
    hash                BLOB    CHECK (length(hash) = 32),
    verdict             TEXT    NOT NULL CHECK (verdict IN (${sqlList(LOCAL_VERDICTS)})),
    upstream_verdict    TEXT    NOT NULL CHECK (upstream_verdict IN (${sqlList(UPSTREAM_VERDICTS)})),
    upstream_error      TEXT,
    is_block            INTEGER NOT NULL CHECK (is_block IN (0, 1))
  ) STRICT;

  -- window aggregates: all shares, per miner, per upstream
  CREATE INDEX shares_time ON shares (time);
  CREATE INDEX shares_miner_time ON shares (miner, time);
  CREATE INDEX shares_upstream_time ON shares (upstream, time);
  `,
  `
  -- A proof of work is credited once (the proxy keys duplicates on the header hash; this keeps
  -- the rule in the ledger too, so a fault above it cannot pay twice). Copies credited by
  -- versions before this rule existed are marked duplicates, the first one keeps the credit.
  UPDATE shares SET verdict = 'duplicate'
   WHERE verdict = 'accepted'
     AND id NOT IN (SELECT min(id) FROM shares WHERE verdict = 'accepted' GROUP BY hash);
  CREATE UNIQUE INDEX shares_credited_hash ON shares (hash) WHERE verdict = 'accepted';
  `,
  // Rejected shares past a connection's budget, counted per interval instead of one row each.
  `
  CREATE TABLE reject_summaries (
    id           INTEGER PRIMARY KEY,
    period_start INTEGER NOT NULL,
    period_end   INTEGER NOT NULL CHECK (period_end >= period_start),
    miner        TEXT    NOT NULL,
    worker       TEXT    NOT NULL,
    upstream     TEXT    NOT NULL,
    verdict      TEXT    NOT NULL CHECK (verdict IN (${sqlList(REJECTED_VERDICTS)})),
    shares       INTEGER NOT NULL CHECK (shares > 0)
  ) STRICT;

  CREATE INDEX reject_summaries_start ON reject_summaries (period_start);
  `,
  // Retention (pruneBefore) deletes old jobs no share names: finding them, and the foreign key
  // check each delete makes, look shares up by job; old jobs are found by when they arrived.
  `
  CREATE INDEX IF NOT EXISTS shares_job ON shares (job_id);
  CREATE INDEX IF NOT EXISTS jobs_received_at ON jobs (received_at);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Creates the schema in an empty file, or brings an older ledger up to date. */
export function migrate(db: Database, path: string): void {
  const version = ledgerVersion(db, path);
  if (version === SCHEMA_VERSION) return;
  db.transaction(() => {
    for (const migration of MIGRATIONS.slice(version)) db.exec(migration);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/**
 * The file's ledger schema version (0 for an empty file); refuses a database that is not a
 * ledger, or one written by a newer hashrelay.
 */
export function ledgerVersion(db: Database, path: string): number {
  const applicationId = db.pragma('application_id', { simple: true }) as number;
  const version = db.pragma('user_version', { simple: true }) as number;
  const objects = db.prepare<[], number>('SELECT count(*) FROM sqlite_schema').pluck().get() ?? 0;
  if (applicationId !== APPLICATION_ID && (applicationId !== 0 || objects > 0)) {
    throw new ThreadFailure(
      NOT_A_LEDGER,
      `${path} is a SQLite database but not a hashrelay ledger (application_id ${applicationId}); ` +
        'give the ledger a path of its own',
    );
  }
  if (version > SCHEMA_VERSION) {
    throw new ThreadFailure(
      NEWER_SCHEMA,
      `${path} has ledger schema version ${version}, newer than this hashrelay's ${SCHEMA_VERSION}; ` +
        'run a hashrelay at least as new as the one that wrote it',
    );
  }
  return version;
}
