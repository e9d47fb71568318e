/** What a subcommand returns; main.ts writes it out, so commands stay testable without a process. */
export interface CommandResult {
  readonly code: ExitCode;
  readonly stdout?: string;
  readonly stderr?: string;
}

export const ExitCode = {
  ok: 0,
  /** The command ran and the answer is "no" (an invalid share), or it failed at run time. */
  failure: 1,
  /** The input or the command line was malformed. */
  usage: 2,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
