import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/**
 * HAProxy (Debian's `haproxy`) in front of proxy instances for tests: TCP mode as in
 * deploy/haproxy/haproxy.cfg, with the same /readyz health check but short intervals and
 * timeouts, and a stats page (CSV) to read each server's state from.
 */

export const HAPROXY = '/usr/sbin/haproxy';

/** Why there is no HAProxy to test with, or undefined when there is one. */
export function haproxyMissing(): string | undefined {
  return existsSync(HAPROXY) ? undefined : `no ${HAPROXY}: apt-get install haproxy (.ci/run installs it)`;
}

export interface Backend {
  readonly name: string;
  /** The instance's Stratum port. */
  readonly port: number;
  /** The instance's admin listener, where /readyz answers. */
  readonly adminPort: number;
}

export interface RunningHaproxy {
  /** Where miners connect. */
  readonly port: number;
  readonly child: ChildProcess;
  /** Each server's state as HAProxy sees it (`UP`, `DOWN`, …), by name. */
  states(): Promise<Map<string, string>>;
  /** Resolves once every named server is in `state`. */
  waitFor(state: string, names: readonly string[], timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The config: leastconn over the backends, health from /readyz every 200 ms, a failed dial redispatched. */
export function haproxyConfig(frontendPort: number, statsPort: number, backends: readonly Backend[]): string {
  return [
    'global',
    '    maxconn 1000',
    'defaults',
    '    mode tcp',
    '    timeout connect 1s',
    '    timeout client 60s',
    '    timeout server 60s',
    // A miner that reaches a killed instance before its check fails is sent to another one.
    '    retries 2',
    '    option redispatch 1',
    'frontend stratum',
    `    bind 127.0.0.1:${frontendPort}`,
    '    default_backend hashrelay',
    'backend hashrelay',
    '    balance leastconn',
    '    option httpchk',
    '    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host hashrelay',
    '    http-check expect status 200',
    '    default-server check inter 200ms fall 1 rise 1',
    ...backends.map((b) => `    server ${b.name} 127.0.0.1:${b.port} check port ${b.adminPort}`),
    'frontend stats',
    '    mode http',
    `    bind 127.0.0.1:${statsPort}`,
    '    stats enable',
    '    stats uri /stats',
    '',
  ].join('\n');
}

/** Starts `haproxy -db` on a free port and waits until every backend is UP. */
export async function startHaproxy(backends: readonly Backend[]): Promise<RunningHaproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'hashrelay-haproxy-'));
  const [port, statsPort] = [await freePort(), await freePort()];
  const configPath = join(dir, 'haproxy.cfg');
  writeFileSync(configPath, haproxyConfig(port, statsPort, backends));
  const child = spawn(HAPROXY, ['-f', configPath, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });

  const states = async (): Promise<Map<string, string>> => {
    const csv = await (await fetch(`http://127.0.0.1:${statsPort}/stats;csv`)).text();
    const result = new Map<string, string>();
    for (const line of csv.split('\n')) {
      const [proxy, server, ...fields] = line.split(',');
      // `status` is the 18th column: pxname, svname, then 15 counters before it.
      if (proxy === 'hashrelay' && server !== undefined && server !== 'BACKEND')
        result.set(server, fields[15] ?? '');
    }
    return result;
  };
  const waitFor = async (state: string, names: readonly string[], timeoutMs = 10_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let last = new Map<string, string>();
    for (;;) {
      if (child.exitCode !== null) throw new Error(`haproxy exited ${child.exitCode}: ${stderr}`);
      last = await states().catch(() => last);
      if (names.every((name) => last.get(name)?.startsWith(state) === true)) return;
      if (Date.now() > deadline) {
        throw new Error(
          `haproxy servers ${names.join(', ')} not ${state} within ${timeoutMs} ms: ` +
            `${JSON.stringify([...last])}; ${stderr}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      'UP',
      backends.map((b) => b.name),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, child, states, waitFor, stop };
}
