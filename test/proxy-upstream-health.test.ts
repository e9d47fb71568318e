import { describe, expect, test } from 'vitest';
import {
  judgeSession,
  retryDelayMs,
  tooManyRejects,
  type SessionHealthRules,
  type SessionSignals,
} from '../proxy/upstream-health.js';

const RULES: SessionHealthRules = { silenceMs: 120_000, maxUnansweredSubmits: 3, submitAnswerMs: 10_000 };
const QUIET: SessionSignals = {
  lastReceivedAt: 0,
  handshakingSince: undefined,
  unansweredInARow: 0,
  awaitingAnswerSince: undefined,
};

describe('the upstream health rule', () => {
  test('a session that receives and has nothing waiting is healthy until its silence deadline', () => {
    expect(judgeSession(QUIET, RULES, 119_999)).toEqual({ healthy: true, recheckAt: 120_000 });
    expect(judgeSession(QUIET, RULES, 120_000)).toMatchObject({ healthy: false, fault: 'lost' });
    expect(judgeSession({ ...QUIET, lastReceivedAt: 50_000 }, RULES, 120_000)).toMatchObject({
      healthy: true,
    });
  });

  test('a submit unanswered past submitAnswerSeconds fails the session even while jobs keep arriving', () => {
    const waiting = { ...QUIET, lastReceivedAt: 19_000, awaitingAnswerSince: 9_500 };
    expect(judgeSession(waiting, RULES, 19_000)).toEqual({ healthy: true, recheckAt: 19_500 });
    const verdict = judgeSession(waiting, RULES, 19_500);
    expect(verdict).toMatchObject({ healthy: false, fault: 'misbehaving' });
    expect(verdict.healthy || verdict.reason).toMatch(/^unanswered: no submit answered for 10\.0 s/);
  });

  test('maxUnansweredSubmits timeouts in a row fail the session at once', () => {
    expect(judgeSession({ ...QUIET, unansweredInARow: 2 }, RULES, 1)).toMatchObject({ healthy: true });
    const verdict = judgeSession({ ...QUIET, unansweredInARow: 3 }, RULES, 1);
    expect(verdict).toMatchObject({ healthy: false, fault: 'misbehaving' });
    expect(verdict.healthy || verdict.reason).toMatch(/^unanswered: 3 submits in a row/);
  });

  test('subscribe and authorize unanswered for submitAnswerSeconds lose the session (a frozen pool still accepts TCP)', () => {
    const connecting = { ...QUIET, handshakingSince: 1000 };
    expect(judgeSession(connecting, RULES, 10_999)).toEqual({ healthy: true, recheckAt: 11_000 });
    expect(judgeSession(connecting, RULES, 11_000)).toMatchObject({ healthy: false, fault: 'lost' });
  });

  test('rejections fail an upstream at the configured count', () => {
    expect(tooManyRejects(19, 20)).toBeUndefined();
    expect(tooManyRejects(20, 20)).toBe('rejected 20 valid shares in a row');
  });

  test('a lost upstream others wait for is probed; a misbehaving one, or one nobody waits for, backs off', () => {
    const policy = { backoffMinMs: 1000, backoffMaxMs: 60_000, probeMs: 5000 };
    // Jitter spans the upper half of the base delay.
    expect(retryDelayMs(1, 'lost', false, policy, 0)).toBe(500);
    expect(retryDelayMs(1, 'lost', false, policy, 1)).toBe(1000);
    expect(retryDelayMs(7, 'lost', false, policy, 1)).toBe(60_000);
    expect(retryDelayMs(7, 'lost', true, policy, 1)).toBe(5000);
    expect(retryDelayMs(7, 'lost', true, policy, 0)).toBe(2500);
    expect(retryDelayMs(1, 'lost', true, policy, 1)).toBe(1000);
    // A hung pool that completes its handshake would be failed back to at once, again and again.
    expect(retryDelayMs(7, 'misbehaving', true, policy, 1)).toBe(60_000);
  });
});
