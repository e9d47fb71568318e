/**
 * The hashrelay proxy as a child process for benchmarks: started from the built CLI with a
 * config file, its listening port read from its JSON log, its RSS and CPU read from /proc, and
 * killed whatever happens to the benchmark: an 'exit' hook covers a crash of this process, and
 * SIGINT or SIGTERM exit through it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ProxyConfigInput } from '../src/config/proxy-config.js';
import { processCpuSeconds, processMemory, threadCpuSeconds } from './proc-stats.js';
import { waitUntil, withTimeout } from './wait.js';

export interface ProxyProcessOptions {
  readonly upstream: string;
  readonly ledgerPath: string;
  /** Written to a file next to the ledger and passed as --config; listen/upstream/ledger come as flags. */
  readonly config: Omit<ProxyConfigInput, 'listen' | 'upstreams' | 'ledger'>;
  readonly workDir: string;
  /** Run the proxy under `--cpu-prof` and write the profile here when it stops. */
  readonly cpuProfileDir?: string;
  readonly startTimeoutMs?: number;
  /**
   * Run this script with the same flags instead of `hashrelay proxy` (e.g. the engine in the
   * validator role), with these extra environment variables.
   */
  readonly role?: { readonly script: string; readonly env?: Readonly<Record<string, string>> };
  /** Node flags before the script (e.g. `--require` a measurement-only preload). */
  readonly nodeFlags?: readonly string[];
  /** Another build's CLI (e.g. the previous commit's dist/cli/main.js) for an A/B in one run. */
  readonly cli?: string;
  /** The child's whole environment (default: this process's); undefined values are left out. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const LOG_TAIL_LINES = 20;

export class ProxyProcess {
  readonly port: number;
  /** Where /metrics is served, when the config asked for it. */
  readonly metricsPort: number | undefined;
  readonly pid: number;
  /** Count of warn-or-worse log events by message. */
  readonly problems: Map<string, number>;
  private readonly child: ChildProcess;
  private readonly tail: string[];
  private readonly exited: Promise<number | null>;
  private readonly cpuProfileDir: string | undefined;

  private constructor(
    child: ChildProcess,
    port: number,
    metricsPort: number | undefined,
    tail: string[],
    problems: Map<string, number>,
    exited: Promise<number | null>,
    cpuProfileDir: string | undefined,
  ) {
    this.child = child;
    this.port = port;
    this.metricsPort = metricsPort;
    this.pid = child.pid!;
    this.tail = tail;
    this.problems = problems;
    this.exited = exited;
    this.cpuProfileDir = cpuProfileDir;
  }

  static async start(options: ProxyProcessOptions): Promise<ProxyProcess> {
    const main =
      options.role?.script ?? options.cli ?? fileURLToPath(new URL('../cli/main.js', import.meta.url));
    if (!existsSync(main))
      throw new Error(`${main} is missing: build first (npx tsc -p tsconfig.build.json)`);
    const configPath = join(options.workDir, 'proxy-config.json');
    writeFileSync(configPath, JSON.stringify(options.config, null, 2));
    const nodeFlags = [
      ...(options.nodeFlags ?? []),
      ...(options.cpuProfileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir]),
    ];
    const child = spawn(
      process.execPath,
      [
        ...nodeFlags,
        main,
        ...(options.role === undefined ? ['proxy'] : []),
        '--listen',
        '127.0.0.1:0',
        '--upstream',
        options.upstream,
        '--ledger',
        `sqlite:${options.ledgerPath}`,
        '--config',
        configPath,
      ],
      {
        env: { ...(options.env ?? process.env), HASHRELAY_LOG_FORMAT: 'json', ...options.role?.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    guard(child);
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => {
        unguard(child);
        resolve(code);
      });
    });

    const tail: string[] = [];
    const keep = (line: string): void => {
      tail.push(line);
      if (tail.length > LOG_TAIL_LINES) tail.shift();
    };
    const problems = new Map<string, number>();
    let onPort: ((port: number) => void) | undefined;
    const admin: { port: number | undefined } = { port: undefined };
    createInterface({ input: child.stdout }).on('line', (line) => {
      keep(line);
      let event: { level?: unknown; msg?: unknown; port?: unknown; address?: { port?: unknown } };
      try {
        event = JSON.parse(line) as typeof event;
      } catch {
        return;
      }
      if (event.msg === 'listening for miners' && typeof event.port === 'number') onPort?.(event.port);
      if (typeof event.address?.port === 'number' && String(event.msg).startsWith('admin listener'))
        admin.port = event.address.port;
      if (typeof event.level === 'number' && event.level >= 40 && typeof event.msg === 'string')
        problems.set(event.msg, (problems.get(event.msg) ?? 0) + 1);
    });
    createInterface({ input: child.stderr }).on('line', keep);

    const port = new Promise<number>((resolve, reject) => {
      onPort = resolve;
      void exited.then((code) => {
        reject(new Error(`the proxy exited with code ${code} before listening:\n${tail.join('\n')}`));
      });
      child.once('error', reject);
    });
    try {
      const bound = await withTimeout(port, options.startTimeoutMs ?? 15_000, 'the proxy to listen');
      // The admin listener starts after the miners' one.
      if (options.config.metrics !== undefined)
        await waitUntil(() => admin.port !== undefined, 5000, 'the proxy to announce its metrics port');
      return new ProxyProcess(child, bound, admin.port, tail, problems, exited, options.cpuProfileDir);
    } catch (error) {
      child.kill('SIGKILL');
      await withTimeout(exited, 5000, 'the proxy to exit').catch(() => undefined);
      throw error;
    }
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines the proxy wrote, for error messages. */
  get logTail(): string {
    return this.tail.join('\n');
  }

  /** Resident set size and its peak, in bytes. */
  memory(): { rss: number; peak: number } {
    return processMemory(this.pid);
  }

  /** CPU time the proxy has used so far, all threads, in seconds. */
  cpuSeconds(): number {
    return processCpuSeconds(this.pid);
  }

  /** CPU seconds per thread ('main', then V8's and libuv's and the ledger's threads by name). */
  threadCpuSeconds(): Map<string, number> {
    return threadCpuSeconds(this.pid);
  }

  /** The proxy's Prometheus metrics as text ('' when it serves none). */
  async scrapeMetrics(timeoutMs = 5000): Promise<string> {
    if (this.metricsPort === undefined) return '';
    const response = await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    return response.text();
  }

  /**
   * SIGTERM (the proxy drains and exits, writing its CPU profiles if asked), SIGKILL after
   * `timeoutMs`. Resolves with the profiles written, one per thread, the main thread first.
   */
  async stop(timeoutMs = 20_000): Promise<string[]> {
    if (this.running) {
      this.child.kill('SIGTERM');
      try {
        await withTimeout(this.exited, timeoutMs, 'the proxy to drain and exit');
      } catch {
        this.kill();
        await withTimeout(this.exited, 5000, 'the proxy to die').catch(() => undefined);
      }
    }
    const dir = this.cpuProfileDir;
    if (dir === undefined) return [];
    // node names them CPU.<date>.<time>.<pid>.<thread>.<serial>.cpuprofile; thread 0 is the main one.
    const thread = (name: string): number => Number(name.split('.')[4]);
    return readdirSync(dir)
      .filter((name) => name.endsWith('.cpuprofile') && name.split('.')[3] === String(this.pid))
      .sort((a, b) => thread(a) - thread(b))
      .map((name) => join(dir, name));
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

// Children alive, killed if this process exits or is interrupted first: a proxy left running
// would keep its port and retry a sink that is gone.
const guarded = new Set<ChildProcess>();

function killGuarded(): void {
  for (const child of guarded) child.kill('SIGKILL');
}

function onSignal(signal: NodeJS.Signals): void {
  // Exiting (rather than re-raising) runs the 'exit' hooks: this one and the caller's cleanup.
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

function guard(child: ChildProcess): void {
  if (guarded.size === 0) {
    process.on('exit', killGuarded);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  guarded.add(child);
}

function unguard(child: ChildProcess): void {
  if (!guarded.delete(child) || guarded.size > 0) return;
  process.off('exit', killGuarded);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}
