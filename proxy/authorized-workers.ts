/**
 * The usernames authorized on one miner connection → the identity their shares are credited
 * to, in the order first authorized. Nearly every rig authorizes one worker: that one is held in
 * two fields, and a Map (~200 B even empty) is made only for a second, so 10,000 idle miners
 * hold ~2 MiB less.
 */
export class AuthorizedWorkers implements Iterable<[string, string]> {
  private firstWorker: string | undefined;
  private firstIdentity = '';
  private more: Map<string, string> | undefined;

  get size(): number {
    return (this.firstWorker === undefined ? 0 : 1) + (this.more?.size ?? 0);
  }

  get(worker: string): string | undefined {
    return worker === this.firstWorker ? this.firstIdentity : this.more?.get(worker);
  }

  has(worker: string): boolean {
    return this.get(worker) !== undefined;
  }

  /** Authorizing a worker again credits its new identity; its place in the order stays. */
  set(worker: string, identity: string): void {
    if (this.firstWorker === undefined || worker === this.firstWorker) {
      this.firstWorker = worker;
      this.firstIdentity = identity;
      return;
    }
    (this.more ??= new Map()).set(worker, identity);
  }

  *[Symbol.iterator](): Iterator<[string, string]> {
    if (this.firstWorker !== undefined) yield [this.firstWorker, this.firstIdentity];
    if (this.more !== undefined) yield* this.more;
  }
}
