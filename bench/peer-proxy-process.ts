/**
 * Another Stratum proxy (a peer, e.g. ckpool in proxy mode) as a child process for side-by-side
 * benchmarks. It is started from a command template the operator gives, never built or shipped
 * from this tree; the template's placeholders are filled in and the result run by `sh -c exec`,
 * so the child is the peer itself and its RSS is the peer's:
 *
 *   {listen}         HOST:PORT the peer must listen on for miners
 *   {listen_host}    its host       {listen_port}    its port
 *   {upstream}       HOST:PORT of the pool the peer must connect to
 *   {upstream_host}  its host       {upstream_port}  its port
 *   {upstream_url}   stratum+tcp://USER:PASS@HOST:PORT
 *   {user} {pass}    the pool credentials
 *   {dir}            a scratch directory of its own (for a config file a wrapper script writes)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processMemory } from './proc-stats.js';
import { waitUntil, withTimeout } from './wait.js';

export interface PeerUpstream {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly pass: string;
}

const LOG_TAIL_LINES = 20;

export class PeerProxyProcess {
  private readonly tail: string[] = [];
  private readonly exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly dir: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        resolve(code);
      });
    });
    const keep = (chunk: Buffer): void => {
      this.tail.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      this.tail.splice(0, Math.max(0, this.tail.length - LOG_TAIL_LINES));
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    process.once('exit', () => child.kill('SIGKILL'));
  }

  /** Fills the template, starts the peer and waits until it accepts connections on its port. */
  static async start(
    template: string,
    upstream: PeerUpstream,
    timeoutMs = 15_000,
  ): Promise<PeerProxyProcess> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'hashrelay-peer-'));
    const values: Record<string, string> = {
      listen: `127.0.0.1:${port}`,
      listen_host: '127.0.0.1',
      listen_port: String(port),
      upstream: `${upstream.host}:${upstream.port}`,
      upstream_host: upstream.host,
      upstream_port: String(upstream.port),
      upstream_url: `stratum+tcp://${upstream.user}:${upstream.pass}@${upstream.host}:${upstream.port}`,
      user: upstream.user,
      pass: upstream.pass,
      dir,
    };
    const command = template.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
    const child = spawn('sh', ['-c', `exec ${command}`], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
    const peer = new PeerProxyProcess(child, port, dir);
    try {
      let accepting = false;
      let exitCode: number | null | undefined;
      void peer.exited.then((code) => (exitCode = code));
      await waitUntil(
        () => {
          if (exitCode !== undefined) throw new Error(`the peer exited with ${exitCode}:\n${peer.logTail}`);
          if (!accepting) void accepts(port).then((yes) => (accepting ||= yes));
          return accepting;
        },
        timeoutMs,
        `the peer (${command}) to listen on ${values.listen}`,
        () => peer.logTail,
        200,
      );
      return peer;
    } catch (error) {
      await peer.stop();
      throw error;
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  get logTail(): string {
    return this.tail.join('\n');
  }

  memory(): { rss: number; peak: number } {
    return processMemory(this.pid);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      await withTimeout(this.exited, 5000, 'the peer to exit').catch(() => this.child.kill('SIGKILL'));
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}
