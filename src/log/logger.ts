import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * Structured JSON logs (pino) to stdout; human-readable through pino-pretty when stdout is a
 * terminal and HASHRELAY_LOG_FORMAT is not `json`.
 */
export function createLogger(level: LogLevel, name = 'hashrelay'): Logger {
  const pretty = process.stdout.isTTY && process.env.HASHRELAY_LOG_FORMAT !== 'json';
  if (pretty) {
    return pino({
      name,
      level,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  return pino({ name, level });
}

/** A logger that writes nothing, for library users and tests that do not care. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
