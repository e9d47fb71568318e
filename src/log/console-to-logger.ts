import { format } from 'node:util';
import type { Logger } from 'pino';

type ConsoleMethod = 'log' | 'info' | 'debug' | 'trace' | 'warn' | 'error';
type Level = 'debug' | 'info' | 'warn' | 'error';

const LEVELS: Record<ConsoleMethod, Level> = {
  log: 'info',
  info: 'info',
  debug: 'debug',
  trace: 'debug',
  warn: 'warn',
  error: 'error',
};

/** How @polkadot/util's logger starts a line: a local date, then its origin padded ("  API-WS:"). */
const POLKADOT_DATE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const POLKADOT_ORIGIN = /^\s*([A-Za-z0-9][A-Za-z0-9/_-]*):$/;

/** The same line again within this long is counted, not written (a reconnect loop every 2.5 s). */
const REPEAT_WINDOW_MS = 60_000;

interface Route {
  readonly logger: Logger;
  readonly repeats: Map<string, { lastAt: number; suppressed: number }>;
}

const routes: Route[] = [];
let saved: Partial<Record<ConsoleMethod, (...args: unknown[]) => void>> = {};
let writing = false;

/**
 * Sends what libraries print with console.* (@polkadot/api's "API-WS: disconnected", "RPC methods
 * not decorated") through `logger` as JSON lines, so stdout stays one JSON object per line. The
 * latest caller's logger takes the lines; the returned function stops this routing (the console
 * is itself again once every routing has stopped). @polkadot/util has no hook of its own: it
 * looks console[method] up on every call.
 */
export function routeConsoleToLogger(logger: Logger): () => void {
  const route: Route = { logger, repeats: new Map() };
  if (routes.length === 0) patchConsole();
  routes.push(route);
  return () => {
    const index = routes.indexOf(route);
    if (index < 0) return;
    routes.splice(index, 1);
    if (routes.length === 0) unpatchConsole();
  };
}

function patchConsole(): void {
  saved = {};
  for (const method of Object.keys(LEVELS) as ConsoleMethod[]) {
    // The function itself, so the console is exactly as it was once routing stops.
    saved[method] = Reflect.get(console, method) as (...args: unknown[]) => void;
    console[method] = (...args: unknown[]): void => {
      const route = routes[routes.length - 1];
      // A logger that itself printed to the console would loop: that line goes out as it came.
      if (route === undefined || writing) {
        const original = saved[method];
        if (original !== undefined) Reflect.apply(original, console, args);
        return;
      }
      writing = true;
      try {
        write(route, LEVELS[method], args, Date.now());
      } finally {
        writing = false;
      }
    };
  }
}

function unpatchConsole(): void {
  for (const [method, original] of Object.entries(saved) as [ConsoleMethod, (...a: unknown[]) => void][])
    console[method] = original;
  saved = {};
}

function write(route: Route, level: Level, args: readonly unknown[], now: number): void {
  const { origin, message } = describe(args);
  const key = `${level} ${origin} ${message}`;
  const seen = route.repeats.get(key);
  if (seen !== undefined && now - seen.lastAt < REPEAT_WINDOW_MS) {
    seen.suppressed += 1;
    return;
  }
  if (route.repeats.size > 256) {
    for (const [old, entry] of route.repeats)
      if (now - entry.lastAt >= REPEAT_WINDOW_MS) route.repeats.delete(old);
  }
  route.repeats.set(key, { lastAt: now, suppressed: 0 });
  const repeated = seen?.suppressed ?? 0;
  route.logger[level]({ origin, ...(repeated > 0 ? { repeated } : {}) }, message);
}

/** The printing library's origin (polkadot's "API-WS") and the rest as one line of text. */
function describe(args: readonly unknown[]): { origin: string; message: string } {
  const [first, second, ...rest] = args;
  if (typeof first === 'string' && typeof second === 'string' && POLKADOT_DATE.test(first)) {
    const origin = POLKADOT_ORIGIN.exec(second)?.[1];
    if (origin !== undefined) return { origin, message: format(...rest) };
  }
  return { origin: 'console', message: format(...args) };
}
