import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './ports.js';

/**
 * A real Prometheus for tests (Debian's `prometheus` package; `.ci/run` installs it): started on
 * a free loopback port with its own temporary storage, scraping the given targets.
 */

/** <name> in /usr/bin or /usr/sbin (where Debian puts it), else on $PATH; undefined if nowhere. */
export function findBinary(name: string): string | undefined {
  for (const dir of ['/usr/bin', '/usr/sbin', ...(process.env.PATH ?? '').split(delimiter)]) {
    if (dir === '') continue;
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** One series of an instant query: its labels and its value as Prometheus printed it. */
export interface Sample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: string;
}

export class PrometheusQueryError extends Error {}

export interface RunningPrometheus {
  readonly url: string;
  /** `/api/v1/query` at the current time; throws PrometheusQueryError on a bad expression. */
  query(expr: string): Promise<Sample[]>;
  /** Resolves once every target has been scraped at least `scrapes` more times than now. */
  waitForScrapes(scrapes: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** `host:port` of each /metrics endpoint, all in one job. */
  readonly targets: readonly string[];
  readonly job?: string;
  readonly scrapeIntervalSeconds?: number;
}

/** Prometheus' own configuration for the targets: one job, scraped every interval. */
export function scrapeConfig(options: PrometheusOptions): string {
  const interval = `${options.scrapeIntervalSeconds ?? 1}s`;
  return [
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    'scrape_configs:',
    `  - job_name: ${options.job ?? 'hashrelay'}`,
    `    scrape_timeout: ${interval}`,
    '    static_configs:',
    `      - targets: [${options.targets.map((t) => `'${t}'`).join(', ')}]`,
    '',
  ].join('\n');
}

export async function startPrometheus(
  binary: string,
  options: PrometheusOptions,
): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'hashrelay-prometheus-'));
  const configPath = join(dir, 'prometheus.yml');
  writeFileSync(configPath, scrapeConfig(options));
  const check = findBinary('promtool');
  if (check !== undefined) {
    const result = spawnSync(check, ['check', 'config', configPath], { encoding: 'utf8' });
    if (result.status !== 0)
      throw new Error(`generated prometheus.yml is invalid:\n${result.stdout}${result.stderr}`);
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };

  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as { status: string; data?: T; error?: string };
    if (body.status !== 'success' || body.data === undefined)
      throw new PrometheusQueryError(`${path}: ${body.error ?? `HTTP ${response.status}`}`);
    return body.data;
  };

  const query = async (expr: string): Promise<Sample[]> => {
    const data = await api<{
      resultType: string;
      result: { metric: Record<string, string>; value: [number, string] }[];
    }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    if (data.resultType !== 'vector')
      throw new PrometheusQueryError(`${expr}: a ${data.resultType}, not an instant vector`);
    return data.result.map((series) => ({ metric: series.metric, value: series.value[1] }));
  };

  // Successful scrapes so far per target: each adds one sample of `up` equal to 1.
  const scrapeCounts = async (): Promise<Map<string, number>> => {
    const samples = await query(`sum_over_time(up{job="${options.job ?? 'hashrelay'}"}[1h])`);
    return new Map(samples.map((s) => [s.metric.instance ?? '', Number(s.value)]));
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${output}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus did not become ready on ${url}:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    url,
    query,
    async waitForScrapes(scrapes, timeoutMs = 30_000) {
      const before = await scrapeCounts();
      const end = Date.now() + timeoutMs;
      for (;;) {
        const now = await scrapeCounts();
        const done = options.targets.every(
          (target) => (now.get(target) ?? 0) >= (before.get(target) ?? 0) + scrapes,
        );
        if (done) return;
        if (Date.now() > end)
          throw new Error(
            `prometheus did not scrape ${options.targets.join(', ')} ${scrapes} more times in ${timeoutMs} ms`,
          );
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    stop,
  };
}
