import pg from 'pg';
import { redactCredentials } from '../log/redact.js';
import { checkSchemaName } from './pg-ledger-schema.js';

/**
 * Where a PostgreSQL ledger lives and how to reach it: the URL as operators write it, the
 * connection settings every connection of the ledger uses, and which failures are worth
 * another try.
 */

export interface PgLocation {
  /** The connection settings for pg, from the URL without our own parameters. */
  readonly config: pg.ClientConfig;
  readonly schema: string;
  /** `user@host:port/database`, for messages: never the password. */
  readonly database: string;
  /** The database and schema, for messages. */
  readonly where: string;
}

export const DEFAULT_SCHEMA = 'hashrelay';

/**
 * Reads `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME&…]`. `schema` (default
 * `hashrelay`) is ours; every other parameter is libpq's and goes to pg as given (`host=/run/
 * postgresql` for a Unix socket, `sslmode`, `application_name`, …).
 */
export function parsePgUrl(url: string, schemaOverride?: string): PgLocation {
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new RangeError(
      `a PostgreSQL ledger URL starts with postgres:// or postgresql://, got '${redactCredentials(url)}'`,
    );
  }
  const question = url.indexOf('?');
  const base = question === -1 ? url : url.slice(0, question);
  const params = new URLSearchParams(question === -1 ? '' : url.slice(question + 1));
  const schema = schemaOverride ?? params.get('schema') ?? DEFAULT_SCHEMA;
  params.delete('schema');
  checkSchemaName(schema);
  const rest = params.toString();
  const connectionString = rest === '' ? base : `${base}?${rest}`;
  const settings = new pg.Client({ connectionString });
  const parameters = (settings as unknown as { connectionParameters: ConnectionParameters })
    .connectionParameters;
  const database = `${parameters.user ?? ''}@${parameters.host ?? ''}:${String(parameters.port ?? '')}/${parameters.database ?? ''}`;
  return {
    config: {
      connectionString,
      // A URL's own application_name wins: pg lets the connection string override these.
      application_name: 'hashrelay-ledger',
      keepAlive: true,
      types: { getTypeParser },
    },
    schema,
    database,
    where: `${database} schema ${schema}`,
  };
}

interface ConnectionParameters {
  readonly user?: string;
  readonly host?: string;
  readonly port?: number | string;
  readonly database?: string;
}

const INT8 = 20;

/**
 * bigint columns (ids, times, u32 fields, counts) as numbers: every value the ledger stores is
 * a safe integer. Everything else as pg reads it (bytea → Buffer, float8 → number, numeric →
 * string).
 */
function getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (oid === INT8 && format !== 'binary') return Number;
  return builtinParser(oid, format ?? 'text');
}

const builtinParser = pg.types.getTypeParser as (
  oid: number,
  format: 'text' | 'binary',
) => (value: string) => unknown;

/**
 * Whether an error means "the connection (or the server) failed; the same request may succeed
 * on another": transport errors, server shutdown and restart, a standby not yet promoted,
 * resource exhaustion, serialization conflicts. Everything else (a constraint, a dropped
 * table, a revoked privilege) fails the same way again.
 */
export function isRetryable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof ConnectionLost) return true;
  const code = sqlState(error);
  if (code === undefined) {
    const errno = (error as { code?: unknown }).code;
    return (typeof errno === 'string' && /^E[A-Z]+$/.test(errno)) || TRANSPORT_MESSAGES.test(error.message);
  }
  return (
    code.startsWith('08') || // connection exception
    code.startsWith('40') || // serialization failure, deadlock
    code.startsWith('53') || // insufficient resources (disk full, too many connections)
    code.startsWith('57') || // operator intervention: shutdown, crash, cannot connect now, canceled
    code.startsWith('58') || // system error (I/O)
    code === '25006' // read-only transaction: connected to a standby during a failover
  );
}

/** What pg says when a connection ended under a request (it sets no code). */
const TRANSPORT_MESSAGES =
  /connection terminated|not queryable|timeout expired|connection ended|read timeout/i;

/** A connection given up by the ledger itself (an attempt that outlived its timeout). */
export class ConnectionLost extends Error {
  override readonly name = 'ConnectionLost';
}

/**
 * The SQLSTATE of an error the server sent (or of a refusal standing for one); undefined for a
 * transport error. Node's errno codes can look like one (EPIPE), hence the class check.
 */
export function sqlState(error: unknown): string | undefined {
  if (error instanceof pg.DatabaseError || error instanceof SessionRefused) return error.code;
  return undefined;
}

/** A server this ledger will not write to, and why; `code` is the SQLSTATE it stands for, if any. */
export class SessionRefused extends Error {
  override readonly name = 'SessionRefused';

  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** An error's code and message, for a LedgerError's text. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
}
