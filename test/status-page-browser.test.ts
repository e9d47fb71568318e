import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'puppeteer-core';
import { openLedgerReader } from '../src/ledger/open-ledger.js';
import { silentLogger } from '../src/log/logger.js';
import { startAdminServer } from '../proxy/admin-server.js';
import { statusReport, type StatusReport } from '../proxy/status-report.js';
import type { ValidatorStatus } from '../validator/status-view.js';
import type { FarmChainStatus } from '../miner-agent/chain-view.js';
import { CpuMiner } from './peers/cpu-miner.js';
import { RawStratumClient } from './peers/raw-client.js';
import { CLI, REPO_ROOT } from './support/cli.js';
import { findBinary } from './support/prometheus.js';
import { skipNote } from './support/skip-note.js';
import { testScope } from './support/scope.js';

/**
 * The status page in headless Chromium (Debian's `chromium`, driven by puppeteer-core): the
 * demo's farm and validator pages against the ledger and /metrics, live updates, a miner that
 * leaves, the login form, and screenshots at phone and desktop size in test-artifacts/.
 */

const CHROMIUM = process.env.HASHRELAY_CHROMIUM ?? findBinary('chromium') ?? findBinary('chromium-browser');
const puppeteer = await import('puppeteer-core').then(
  (module) => module.default,
  () => undefined,
);
const NEEDS =
  CHROMIUM === undefined
    ? 'no chromium binary; .ci/run installs it (apt-get install chromium)'
    : puppeteer === undefined
      ? 'puppeteer-core is not installed (npm install)'
      : null;
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'status-page');
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

const scope = testScope({ difficulty: 2 ** -16 });
let browser: Browser | undefined;
let demo: ChildProcess | undefined;
afterEach(async () => {
  await browser?.close();
  browser = undefined;
  if (demo !== undefined && demo.exitCode === null) {
    const exited = new Promise((resolve) => demo!.once('exit', resolve));
    demo.kill('SIGTERM');
    await exited;
  }
  demo = undefined;
});

/** What the tests read in the page (the page's globalThis is its window). */
interface InPage {
  loadedOnce?: boolean;
  pwned?: number;
  readonly document: {
    readonly documentElement: { readonly scrollWidth: number };
    querySelector(selector: string): { readonly textContent: string | null } | null;
  };
}

/** An element as the tests read it. */
interface InNode {
  readonly textContent: string | null;
  readonly className: string;
}

/** The page's number format (proxy/status-page.ts `num`). */
function num(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(10)));
}

async function launch(): Promise<Browser> {
  browser = await puppeteer!.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  return browser;
}

/** A page that keeps the last /api/status it read, to compare what it shows with what it was given. */
async function openStatus(
  url: string,
  viewport = DESKTOP,
): Promise<{ page: Page; last: () => StatusReport; bytes: () => number }> {
  const page = await browser!.newPage();
  await page.setViewport(viewport);
  let last: StatusReport | undefined;
  page.on('response', (response) => {
    if (response.url().endsWith('/api/status') && response.ok())
      void response.json().then((body: StatusReport) => {
        last = body;
      });
  });
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  let bytes = 0;
  cdp.on('Network.loadingFinished', (event) => {
    bytes += event.encodedDataLength;
  });
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('#workers', { timeout: 30_000 });
  return { page, last: () => last!, bytes: () => bytes };
}

const text = (page: Page, selector: string): Promise<string | undefined> =>
  page.$eval(selector, (node) => (node as unknown as InNode).textContent ?? '').catch(() => undefined);

interface DemoRun {
  readonly dir: string;
  readonly farmListen: number;
  readonly pages: Map<string, string>;
  readonly output: () => string;
}

/** `hashrelay demo` as a new user runs it: its first lines name each role's page. */
async function startDemo(): Promise<DemoRun> {
  // The demo picks free ports before its roles listen; on a busy machine another process may
  // take one in between, which the demo reports and exits on: then it is started again.
  for (let attempt = 1; ; attempt++) {
    const run = await startDemoOnce();
    if (run !== 'port taken' || attempt === 3) {
      if (run === 'port taken') throw new Error('the demo lost a port three times');
      return run;
    }
  }
}

async function startDemoOnce(): Promise<DemoRun | 'port taken'> {
  const dir = mkdtempSync(join(tmpdir(), 'hashrelay-status-demo-'));
  const child = spawn(
    process.execPath,
    [CLI, 'demo', '--dir', dir, '--metrics', '127.0.0.1:0', '--miners', '3'],
    { cwd: REPO_ROOT },
  );
  demo = child;
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  await expect
    .poll(() => /validator-b: (http:\S+)/.test(stdout) || child.exitCode !== null, { timeout: 60_000 })
    .toBe(true);
  if (child.exitCode !== null && /in use/.test(stdout)) return 'port taken';
  expect(child.exitCode, stdout).toBeNull();
  const pages = new Map(
    [...stdout.matchAll(/^ {4}(farm-\d|validator-[ab]): (http:\S+)$/gm)].map((m) => [m[1]!, m[2]!]),
  );
  expect([...pages.keys()].sort(), stdout).toEqual(['farm-1', 'farm-2', 'validator-a', 'validator-b']);
  const farmListen = Number(/farm-1: hotkey \S+, .* proxy 127\.0\.0\.1:(\d+)/.exec(stdout)?.[1]);
  return { dir, farmListen, pages, output: () => stdout };
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

describe.skipIf(NEEDS !== null)(`status page in headless Chromium${skipNote(NEEDS)}`, () => {
  test("the demo's farm page shows the ledger's and /metrics' numbers, updates live, shows a miner that left; the validator page shows the window's credit and posts", async () => {
    const run = await startDemo();
    await launch();
    const farmUrl = run.pages.get('farm-1')!;
    const probe = await CpuMiner.connect({ port: run.farmListen, username: 'probe.rig', sniff: false });
    scope.defer(() => probe.close());
    await probe.waitFor((m) => m.acceptedCount >= 3, 60_000, 'probe shares');

    const farm = await openStatus(farmUrl);
    const { page } = farm;
    const firstLoadBytes = farm.bytes();
    await page.evaluate(() => {
      (globalThis as unknown as InPage).loadedOnce = true;
    });
    const row = '#workers tr[data-worker="probe.rig"]';
    await page.waitForSelector(row, { timeout: 30_000 });

    // Quiet the probe, then compare one moment: what it was told, the page, the JSON, the ledger, /metrics.
    probe.pause();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const accepted = probe.acceptedCount;
    await expect
      .poll(() => text(page, `${row} td[data-field="accepted"]`), { timeout: 30_000 })
      .toBe(String(accepted));
    const shown = farm.last().workers.find((w) => w.worker === 'probe.rig')!;
    expect(shown.accepted).toBe(accepted);
    const ledger = await openLedgerReader(`sqlite:${join(run.dir, 'farm-1.sqlite')}`);
    const totals = (await ledger.minerTotals({ from: 0, to: Date.now() + 1 })).find(
      (t) => t.worker === 'probe.rig',
    )!;
    await ledger.close();
    expect(totals.sharesByVerdict.accepted).toBe(accepted);
    expect(shown.creditedDifficulty).toBe(totals.creditedDifficulty);
    expect(await text(page, `${row} td[data-field="creditedDifficulty"]`)).toBe(
      num(totals.creditedDifficulty),
    );
    const metrics = await (await fetch(farmUrl.replace(/\/$/, '/metrics'))).text();
    const series = metrics
      .split('\n')
      .find((l) => l.startsWith('hashrelay_worker_credited_difficulty_total{worker="probe.rig"}'));
    expect(Number(series?.split(' ').at(-1))).toBe(totals.creditedDifficulty);
    // Rejects by reason, as the ledger has them (a share in flight when vardiff raised the
    // difficulty by a clean job is stale), on the page as the JSON gave them.
    const ledgerRejects = Object.fromEntries(
      Object.entries(totals.sharesByVerdict).filter(
        ([verdict, count]) => verdict !== 'accepted' && count > 0,
      ),
    );
    expect(shown.rejected).toEqual(ledgerRejects);
    const rejectsText = Object.entries(shown.rejected).map(([verdict, count]) => `${verdict} ${count}`);
    expect(await text(page, `${row} td[data-field="rejected"]`)).toBe(
      rejectsText.length > 0 ? rejectsText.join(', ') : '0',
    );
    expect(await text(page, `${row} td[data-field="state"]`)).toBe('connected');

    // The chain view: the farm's uid, and each validator's weight to it, as the page was given them.
    const chain = farm.last().farm as FarmChainStatus;
    expect(await text(page, '#farm-uid')).toBe(String(chain.uid));
    for (const validator of chain.validators)
      expect(
        await text(
          page,
          `#validators tr[data-validator="${validator.hotkey}"] td[data-field="weightToFarm"]`,
        ),
      ).toBe(validator.weightToFarm === null ? '-' : num(validator.weightToFarm));
    expect(await page.$$eval('#upstreams tbody tr', (rows) => rows.length)).toBe(
      farm.last().upstreams.length,
    );
    await screenshot(page, 'farm-desktop');

    // Live: shares arriving move the row, with no reload.
    probe.resume();
    await expect
      .poll(async () => Number(await text(page, `${row} td[data-field="accepted"]`)), { timeout: 30_000 })
      .toBeGreaterThan(accepted);
    expect(await page.evaluate(() => (globalThis as unknown as InPage).loadedOnce)).toBe(true);

    // A miner that disconnects is shown as gone.
    await probe.close();
    await expect
      .poll(() => text(page, `${row} td[data-field="state"]`), { timeout: 30_000 })
      .toMatch(/^gone /);
    expect(await page.$eval(row, (node) => (node as unknown as InNode).className)).toBe('gone');

    const phone = await openStatus(farmUrl, PHONE);
    await screenshot(phone.page, 'farm-phone');
    // On a phone the page fits the screen's width; only the tables scroll sideways.
    expect(
      await phone.page.evaluate(() => (globalThis as unknown as InPage).document.documentElement.scrollWidth),
    ).toBeLessThanOrEqual(PHONE.width);

    // The validator: each farm's credit in the window equals its ledger's over the same window.
    const validatorUrl = run.pages.get('validator-a')!;
    const validator = await openStatus(validatorUrl);
    await validator.page.waitForSelector('#posts tbody tr', { timeout: 60_000 });
    await expect
      .poll(() => text(validator.page, '#posts tbody tr td[data-field="status"]'), { timeout: 60_000 })
      .toBe('landed');
    const view = validator.last().validator as ValidatorStatus;
    expect(view.window).not.toBeNull();
    const validatorLedger = await openLedgerReader(`sqlite:${join(run.dir, 'validator-a.sqlite')}`);
    const windowTotals = await validatorLedger.minerTotals({ from: view.window!.from, to: view.window!.to });
    await validatorLedger.close();
    expect(view.farms.length).toBeGreaterThanOrEqual(2);
    for (const farmRow of view.farms) {
      const credited = windowTotals
        .filter((t) => t.miner === farmRow.hotkey)
        .reduce((sum, t) => sum + t.creditedDifficulty, 0);
      expect(farmRow.creditedDifficulty).toBe(credited);
      expect(
        await text(
          validator.page,
          `#farms tr[data-farm="${farmRow.hotkey}"] td[data-field="creditedDifficulty"]`,
        ),
      ).toBe(num(credited));
      expect(farmRow.verified).toBe(true);
    }
    await screenshot(validator.page, 'validator-desktop');
    const validatorPhone = await openStatus(validatorUrl, PHONE);
    await validatorPhone.page.waitForSelector('#posts tbody tr', { timeout: 30_000 });
    await screenshot(validatorPhone.page, 'validator-phone');

    writeFileSync(
      join(ARTIFACTS, 'page-weight.json'),
      `${JSON.stringify({ firstLoadBytes, note: 'bytes on the wire for GET / and the first GET /api/status' })}\n`,
    );
    // Small: one document and one JSON read, no framework.
    expect(firstLoadBytes).toBeLessThan(64 * 1024);
  }, 300_000);

  test('without publicStatus the page asks for the token and keeps it for the session; worker names are shown as text', async () => {
    const pool = await scope.pool();
    const running = await scope.proxy([pool.port]);
    const token = 'browser-login-token-0123456789';
    const server: http.Server = await startAdminServer({
      host: '127.0.0.1',
      port: 0,
      registry: running.proxy.metrics.registry,
      ready: () => true,
      logger: silentLogger(),
      token,
      status: () => statusReport({ role: 'proxy', proxy: running.proxy, metrics: running.proxy.metrics }),
    });
    scope.defer(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    // A miner picks its own name: markup in it must stay text.
    const hostile = '<img src=x onerror="window.pwned=1">';
    const client = await RawStratumClient.connect(running.port);
    scope.defer(() => client.close());
    await client.subscribe();
    expect(await client.authorize(hostile)).toBe(true);

    await launch();
    const page = await browser!.newPage();
    await page.setViewport(PHONE);
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    await page.goto(url);
    await page.waitForSelector('#login');
    await screenshot(page, 'login-phone');
    await page.type('#token', 'wrong-token');
    await page.click('#login button');
    await page.waitForFunction(() =>
      (globalThis as unknown as InPage).document
        .querySelector('#login label')
        ?.textContent?.startsWith('Wrong token'),
    );
    await page.type('#token', token);
    await page.click('#login button');
    await page.waitForSelector('#workers tbody tr');
    expect(await text(page, '#workers tbody tr td[data-field="worker"]')).toBe(hostile);
    expect(await page.$('#workers img')).toBeNull();
    expect(await page.evaluate(() => (globalThis as unknown as InPage).pwned)).toBeUndefined();
    // The session keeps the token: a reload goes straight to the data.
    await page.reload();
    await page.waitForSelector('#workers tbody tr');
    expect(await page.$('#login')).toBeNull();
  });
});
