import { pino, type Logger, type LoggerOptions } from 'pino';
import { redactCredentials } from './redact.js';

export type { Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Fields that hold a secret whole: censored wherever they are logged. */
const SECRET_FIELDS = ['password', 'token', 'authorization', 'secretPhrase', 'secretSeed', 'mnemonic'];

/**
 * Every logger's options: secret fields censored, and each line passed through
 * redactCredentials, so a URL's password in a message, a field or an error's stack never
 * reaches the log.
 */
export function loggerOptions(level: LogLevel, name = 'hashrelay'): LoggerOptions {
  return {
    name,
    level,
    redact: {
      paths: SECRET_FIELDS.flatMap((field) => [field, `*.${field}`]),
      censor: '***',
    },
    hooks: { streamWrite: redactCredentials },
  };
}

/**
 * Structured JSON logs (pino) to stdout; human-readable through pino-pretty when stdout is a
 * terminal and HASHRELAY_LOG_FORMAT is not `json`.
 */
export function createLogger(level: LogLevel, name = 'hashrelay'): Logger {
  const pretty = process.stdout.isTTY && process.env.HASHRELAY_LOG_FORMAT !== 'json';
  if (pretty) {
    return pino({
      ...loggerOptions(level, name),
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  return pino(loggerOptions(level, name));
}

/** A logger that writes nothing, for library users and tests that do not care. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
