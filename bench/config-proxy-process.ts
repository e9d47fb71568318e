/**
 * The hashrelay proxy as a child process, configured entirely by a config file: for
 * benchmarks that need what flags cannot say, such as several named upstreams with weights
 * (proxy-process.ts passes one --upstream flag, which replaces the file's list). The built CLI
 * is the binary operators run; its listening port is read from its JSON log, and it is killed
 * if this process exits first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ProxyConfigInput } from '../src/config/proxy-config.js';
import { processCpuSeconds } from './proc-stats.js';
import { withTimeout } from './wait.js';

const LOG_TAIL_LINES = 20;
const running = new Set<ChildProcess>();

function killRunning(): void {
  for (const child of running) child.kill('SIGKILL');
}

export class ConfigProxyProcess {
  /** Count of warn-or-worse log events by message. */
  readonly problems = new Map<string, number>();
  private readonly tail: string[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;
  private readonly listening: Promise<number>;
  private boundPort = 0;

  private constructor(child: ChildProcess) {
    this.child = child;
    if (running.size === 0) process.on('exit', killRunning);
    running.add(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        running.delete(child);
        if (running.size === 0) process.off('exit', killRunning);
        resolve(code);
      });
    });
    let onPort: (port: number) => void = () => undefined;
    this.listening = new Promise((resolve, reject) => {
      onPort = resolve;
      void this.exited.then((code) => {
        reject(new Error(`the proxy exited with code ${code} before listening:\n${this.logTail}`));
      });
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.keep(line);
      let event: { level?: unknown; msg?: unknown; port?: unknown };
      try {
        event = JSON.parse(line) as typeof event;
      } catch {
        return;
      }
      if (event.msg === 'listening for miners' && typeof event.port === 'number') onPort(event.port);
      if (typeof event.level === 'number' && event.level >= 40 && typeof event.msg === 'string')
        this.problems.set(event.msg, (this.problems.get(event.msg) ?? 0) + 1);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.keep(line);
    });
  }

  /** Starts `hashrelay proxy --config FILE` with `config` written to FILE in `workDir`. */
  static async start(
    config: ProxyConfigInput,
    workDir: string,
    timeoutMs = 15_000,
  ): Promise<ConfigProxyProcess> {
    const main = fileURLToPath(new URL('../cli/main.js', import.meta.url));
    if (!existsSync(main))
      throw new Error(`${main} is missing: build first (npx tsc -p tsconfig.build.json)`);
    const configPath = join(workDir, 'proxy-config.json');
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    const child = spawn(process.execPath, [main, 'proxy', '--config', configPath], {
      env: { ...process.env, HASHRELAY_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proxy = new ConfigProxyProcess(child);
    try {
      proxy.boundPort = await withTimeout(proxy.listening, timeoutMs, 'the proxy to listen');
      return proxy;
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }

  get port(): number {
    return this.boundPort;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The last lines the proxy wrote, for error messages. */
  get logTail(): string {
    return this.tail.join('\n');
  }

  /** CPU time the proxy has used so far, all threads, in seconds. */
  cpuSeconds(): number {
    return processCpuSeconds(this.pid);
  }

  /** SIGTERM (the proxy drains and exits), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      try {
        await withTimeout(this.exited, timeoutMs, 'the proxy to drain and exit');
        return;
      } catch {
        this.child.kill('SIGKILL');
      }
    }
    await withTimeout(this.exited, 5000, 'the proxy to die').catch(() => undefined);
  }

  private keep(line: string): void {
    this.tail.push(line);
    if (this.tail.length > LOG_TAIL_LINES) this.tail.shift();
  }
}
