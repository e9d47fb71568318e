import { setTimeout as sleep } from 'node:timers/promises';

/** A wait that ran out of time; the message says what was awaited and what was seen. */
export class WaitTimeout extends Error {
  override readonly name = 'WaitTimeout';
}

/**
 * Polls `done` every `intervalMs` until it holds; throws a WaitTimeout naming `what` (and the
 * `progress` text, if given) after `timeoutMs`. Every wait in the benchmarks has a bound.
 */
export async function waitUntil(
  done: () => boolean,
  timeoutMs: number,
  what: string,
  progress?: () => string,
  intervalMs = 5,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) {
      const seen = progress === undefined ? '' : ` (${progress()})`;
      throw new WaitTimeout(`timed out after ${(timeoutMs / 1000).toFixed(1)} s waiting for ${what}${seen}`);
    }
    await sleep(intervalMs);
  }
}

/** Resolves with `promise`, or rejects with a WaitTimeout after `timeoutMs`. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new WaitTimeout(`timed out after ${(timeoutMs / 1000).toFixed(1)} s waiting for ${what}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
