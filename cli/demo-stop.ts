import { ExitCode, type CommandResult } from './command.js';

/** A role the demo started, and whether it has exited (then nothing is sent to its ports). */
export interface WatchedRole {
  readonly exit: Promise<CommandResult>;
  readonly exited: () => boolean;
}

/**
 * When the demo stops: Ctrl-C or SIGTERM at any moment (even while it starts), its --seconds, or
 * one of its roles exiting on its own (a port in use, a crash), whose message becomes the demo's.
 */
export class DemoStop {
  private stopReason: string | undefined;
  private roleFailure: string | undefined;
  private wake: () => void = () => undefined;
  readonly stopped = new Promise<void>((resolve) => {
    this.wake = resolve;
  });
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.request(signal);
  };

  constructor() {
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  get requested(): boolean {
    return this.stopReason !== undefined;
  }

  /** Why a role or a step failed, if one did: the demo then exits non-zero with it. */
  get failure(): string | undefined {
    return this.roleFailure;
  }

  request(reason: string): void {
    this.stopReason ??= reason;
    this.wake();
  }

  fail(message: string): void {
    if (!this.requested) this.roleFailure ??= message;
    this.request('failure');
  }

  /** A role that exits before the demo asked anything to stop is a failure of the demo. */
  watch(role: string, exit: Promise<CommandResult>, hint = ''): WatchedRole {
    let exited = false;
    const settled = exit
      .catch((error: unknown): CommandResult => ({ code: ExitCode.failure, stderr: `${String(error)}\n` }))
      .then((result) => {
        exited = true;
        if (!this.requested)
          this.fail(`${role} exited: ${(result.stderr ?? '').trim() || `code ${result.code}`}${hint}`);
        return result;
      });
    return { exit: settled, exited: () => exited };
  }

  dispose(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}
