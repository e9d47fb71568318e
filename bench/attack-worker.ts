/**
 * Runs one attack of hostile-attacks.ts on a worker thread. The attack's own CPU (a fresh
 * sr25519 signature on every reconnect, writes to sockets nobody reads) otherwise runs on the
 * event loop that times the honest miner's answers, and under a reconnecting fleet that loop
 * stalled for a second: the benchmark measured itself, not the proxy.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import type { Endpoint } from './attack-client.js';
import {
  AuthorizeFlood,
  JunkSubmits,
  NeverReading,
  ResentJobReplay,
  SubscribeChurn,
  type Attack,
  type AttackContext,
  type AttackReport,
} from './hostile-attacks.js';

/** What the worker needs to build the attack (all of it cloneable). */
export interface AttackSpec {
  readonly phase: string;
  readonly endpoint: Endpoint;
  readonly validatorHotkey: string;
  /** The attacker's registered key, as a derivation URI (e.g. //HostileMiner). */
  readonly attackerUri: string;
  /** Requests per second each never-reading connection sends. */
  readonly neverReadingRate: number;
}

type FromWorker = { readonly kind: 'resend' } | { readonly kind: 'report'; readonly report: AttackReport };

/** The benchmark's phases by name; `resend` makes the pool repeat its job. */
const ATTACKS: Readonly<
  Record<string, (context: AttackContext, resend: () => void, spec: AttackSpec) => Attack>
> = {
  'authorize-flood': (context) => new AuthorizeFlood(context, 100, 40),
  'subscribe-churn': (context) => new SubscribeChurn(context, 50),
  'junk-submits': (context) => new JunkSubmits(context, 100, 45),
  'never-reading': (context, _resend, spec) => new NeverReading(context, 1000, spec.neverReadingRate, 12_000),
  'resent-jobs': (context, resend) =>
    new ResentJobReplay(context, resend, { connections: 10, sharesPerConnection: 10, resendMs: 2000 }),
};

export const ATTACK_PHASES: readonly string[] = Object.keys(ATTACKS);

const STOP_TIMEOUT_MS = 15_000;

/** The attack on its own thread; `onResend` runs here when the attack asks the pool to repeat a job. */
export class AttackOnWorker implements Attack {
  private worker: Worker | undefined;
  private report: Promise<AttackReport> | undefined;

  constructor(
    readonly name: string,
    private readonly spec: AttackSpec,
    private readonly onResend: () => void,
  ) {}

  start(): void {
    const worker = new Worker(new URL(import.meta.url), { workerData: this.spec });
    this.worker = worker;
    this.report = new Promise<AttackReport>((resolve, reject) => {
      worker.on('message', (message: FromWorker) => {
        if (message.kind === 'resend') this.onResend();
        else resolve(message.report);
      });
      worker.once('error', reject);
      worker.once('exit', (code) => {
        reject(new Error(`the attack worker exited (code ${code}) before its report`));
      });
    });
    this.report.catch(() => undefined); // read by stop()
  }

  async stop(): Promise<AttackReport> {
    const worker = this.worker;
    if (worker === undefined || this.report === undefined)
      return { opened: 0, closedByProxy: 0, figures: {} };
    this.worker = undefined;
    worker.postMessage('stop');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`the attack worker did not stop within ${STOP_TIMEOUT_MS} ms`));
      }, STOP_TIMEOUT_MS);
    });
    try {
      return await Promise.race([this.report, late]);
    } finally {
      clearTimeout(timer);
      await worker.terminate();
    }
  }
}

async function runInWorker(spec: AttackSpec): Promise<void> {
  const port = parentPort!;
  await cryptoWaitReady();
  const attacker = new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri(spec.attackerUri);
  const make = ATTACKS[spec.phase];
  if (make === undefined) throw new Error(`unknown attack ${spec.phase}`);
  const send = (message: FromWorker): void => {
    port.postMessage(message);
  };
  const context = { endpoint: spec.endpoint, validatorHotkey: spec.validatorHotkey, attacker };
  const attack = make(
    context,
    () => {
      send({ kind: 'resend' });
    },
    spec,
  );
  port.once('message', () => {
    void attack.stop().then((report) => {
      send({ kind: 'report', report });
    });
  });
  attack.start();
}

if (!isMainThread && (workerData as Partial<AttackSpec> | null)?.attackerUri !== undefined)
  void runInWorker(workerData as AttackSpec);
