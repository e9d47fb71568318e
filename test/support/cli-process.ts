import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CLI, REPO_ROOT } from './cli.js';

/** One JSON log line of the process (pino's fields and the event's own). */
export type LogEvent = Record<string, unknown> & { readonly msg?: string };

/**
 * `hashrelay` started as an operator starts it, its stdout read line by line: every line is kept
 * raw (to check it is JSON), and those that parse are kept as events to wait on.
 */
export class CliProcess {
  readonly stdoutLines: string[] = [];
  readonly events: LogEvent[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly listeners = new Set<() => void>();

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        resolve(code);
        this.changed();
      }),
    );
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.stdoutLines.push(line);
      try {
        this.events.push(JSON.parse(line) as LogEvent);
      } catch {
        // kept raw only: the test says whether that is allowed
      }
      this.changed();
    });
  }

  static start(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliProcess {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HASHRELAY_LOG_FORMAT: 'json', ...env },
    });
    return new CliProcess(child);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Stdout lines that are not JSON objects. */
  get nonJsonLines(): string[] {
    return this.stdoutLines.filter((line) => {
      try {
        const value: unknown = JSON.parse(line);
        return typeof value !== 'object' || value === null || Array.isArray(value);
      } catch {
        return true;
      }
    });
  }

  /** The first event (from the `from`th on) that matches; waits for it. */
  waitForEvent(
    match: (event: LogEvent) => boolean,
    what: string,
    { timeoutMs = 20_000, from = 0 }: { timeoutMs?: number; from?: number } = {},
  ): Promise<LogEvent> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.events.slice(from).find(match);
        if (found !== undefined) {
          done();
          resolve(found);
          return true;
        }
        if (!this.running) {
          done();
          reject(new Error(`hashrelay exited before ${what}; stderr:\n${this.stderr}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr:\n${this.stderr}`));
      }, timeoutMs);
      const listener = (): void => {
        check();
      };
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      if (!check()) this.listeners.add(listener);
    });
  }

  /** Stops it (SIGKILL unless asked otherwise) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
