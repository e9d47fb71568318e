/**
 * `hashrelay audit`'s progress on a terminal: one line rewritten in place (shares checked, the
 * rate, the time left), on stderr so that stdout stays the report. Silent when stderr is not a
 * terminal (a pipe, a log file, a test) or with --quiet.
 */

/** What progress is written to: process.stderr, or a stand-in. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** Redraws at most this often: a terminal need not be written 100 000 times a second. */
const REDRAW_MS = 250;
const CLEAR_LINE = '\r\x1b[2K';

export interface AuditProgress {
  update(sharesChecked: number, sharesTotal: number): void;
  /** Clears the line, so the report that follows starts on a clean one. */
  end(): void;
}

/** Progress on `stream` if it is a terminal and not `quiet`; otherwise nothing. */
export function auditProgress(
  stream: ProgressStream,
  quiet: boolean,
  now = () => performance.now(),
): AuditProgress {
  if (quiet || stream.isTTY !== true) return { update: () => undefined, end: () => undefined };
  const started = now();
  let drawn = -Infinity;
  let shown = false;
  return {
    update(sharesChecked, sharesTotal) {
      const at = now();
      if (at - drawn < REDRAW_MS && sharesChecked < sharesTotal) return;
      drawn = at;
      shown = true;
      stream.write(`${CLEAR_LINE}${progressLine(sharesChecked, sharesTotal, at - started)}`);
    },
    end() {
      if (shown) stream.write(CLEAR_LINE);
    },
  };
}

/** e.g. `audit 1234567 / 10000000 shares (12.3 %)  104.2 k shares/s  about 1 min 24 s left`. */
export function progressLine(sharesChecked: number, sharesTotal: number, elapsedMs: number): string {
  const percent = sharesTotal > 0 ? (100 * sharesChecked) / sharesTotal : 100;
  const rate = elapsedMs > 0 ? (sharesChecked * 1000) / elapsedMs : 0;
  const left = rate > 0 ? ((sharesTotal - sharesChecked) / rate) * 1000 : Number.NaN;
  return (
    `audit ${sharesChecked} / ${sharesTotal} shares (${percent.toFixed(1)} %)  ` +
    `${(rate / 1000).toFixed(1)} k shares/s  ${Number.isFinite(left) ? `about ${duration(left)} left` : 'time left unknown'}`
  );
}

function duration(ms: number): string {
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
