/**
 * The upstream health rule, in one place. An upstream session is failed over (closed; its
 * miners move to the next upstream by one clean notify, no reconnect) when:
 *
 *  1. its connection fails or closes, or does not open within `upstream.connectTimeoutSeconds`,
 *     or subscribe and authorize are not both answered `upstream.submitAnswerSeconds` after it
 *     opened (a frozen pool's kernel still completes the TCP handshake);
 *  2. nothing at all arrives from it for `upstream.silenceSeconds`;
 *  3. it stops answering submits: `upstream.maxUnansweredSubmits` submits in a row get no answer
 *     within `upstream.submitTimeoutSeconds`, or a submit waits `upstream.submitAnswerSeconds`
 *     with no submit answered since it was sent (a frozen pool, or one that still sends jobs);
 *  4. `upstream.maxConsecutiveRejects` locally valid shares in a row are rejected (not those
 *     the pool calls duplicates, nor those on jobs it had already replaced): every session of
 *     the upstream closes.
 *
 * Shares in flight at a failover are recorded `no-answer` and counted lost: a share is bound
 * to its session's coinbase (extranonce1, job), so no other upstream could take it.
 *
 * Retrying: a lost upstream (1, 2) that would carry miners if it were up is probed every
 * `upstream.probeSeconds` (one connection at a time), so failback follows its recovery within
 * seconds; a misbehaving one (3, 4), whose handshake proves nothing, and one nobody waits for,
 * back off exponentially (`backoffMinSeconds` to `backoffMaxSeconds`) until a share is accepted.
 */

/** Why a session was given up: it went away, or it stayed but stopped doing its job. */
export type UpstreamFault = 'lost' | 'misbehaving';

export interface SessionHealthRules {
  readonly silenceMs: number;
  readonly maxUnansweredSubmits: number;
  readonly submitAnswerMs: number;
}

/** What a session observed, on one monotonic clock (ms). */
export interface SessionSignals {
  readonly lastReceivedAt: number;
  /** When the connection opened, until subscribe and authorize are both answered. */
  readonly handshakingSince: number | undefined;
  /** Submits that timed out with no submit answered in between. */
  readonly unansweredInARow: number;
  /** When the first submit sent since the last answer was sent; undefined if none is waiting. */
  readonly awaitingAnswerSince: number | undefined;
}

export type SessionHealth =
  | {
      readonly healthy: true;
      /** When the verdict could next change without new input. */ readonly recheckAt: number;
    }
  | { readonly healthy: false; readonly fault: UpstreamFault; readonly reason: string };

/** Rules 2 and 3 for one session at `now`. */
export function judgeSession(signals: SessionSignals, rules: SessionHealthRules, now: number): SessionHealth {
  if (signals.unansweredInARow >= rules.maxUnansweredSubmits)
    return {
      healthy: false,
      fault: 'misbehaving',
      reason: `unanswered: ${signals.unansweredInARow} submits in a row got no answer`,
    };
  const answerDue =
    signals.awaitingAnswerSince === undefined ? Infinity : signals.awaitingAnswerSince + rules.submitAnswerMs;
  if (now >= answerDue)
    return {
      healthy: false,
      fault: 'misbehaving',
      reason: `unanswered: no submit answered for ${seconds(now - signals.awaitingAnswerSince!)} s`,
    };
  const handshakeDue =
    signals.handshakingSince === undefined ? Infinity : signals.handshakingSince + rules.submitAnswerMs;
  if (now >= handshakeDue)
    return {
      healthy: false,
      fault: 'lost',
      reason: `no connection ready: subscribe and authorize got no answer in ${seconds(now - signals.handshakingSince!)} s`,
    };
  const silenceDue = signals.lastReceivedAt + rules.silenceMs;
  if (now >= silenceDue)
    return { healthy: false, fault: 'lost', reason: `silent for ${seconds(now - signals.lastReceivedAt)} s` };
  return { healthy: true, recheckAt: Math.min(answerDue, handshakeDue, silenceDue) };
}

/** Rule 4: a locally valid share rejected upstream, counted by the link across its sessions. */
export function tooManyRejects(
  consecutiveRejects: number,
  maxConsecutiveRejects: number,
): string | undefined {
  return consecutiveRejects >= maxConsecutiveRejects
    ? `rejected ${consecutiveRejects} valid shares in a row`
    : undefined;
}

export interface RetryPolicy {
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  readonly probeMs: number;
}

/**
 * How long to wait before reconnecting after `failures` sessions lost in a row (none accepted a
 * share). Jittered over the upper half, so a fleet of proxies does not reconnect in lockstep.
 */
export function retryDelayMs(
  failures: number,
  fault: UpstreamFault,
  probing: boolean,
  policy: RetryPolicy,
  random: number,
): number {
  const backoff = Math.min(policy.backoffMaxMs, policy.backoffMinMs * 2 ** Math.max(0, failures - 1));
  const base = probing && fault === 'lost' ? Math.min(backoff, policy.probeMs) : backoff;
  return base / 2 + random * (base / 2);
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
