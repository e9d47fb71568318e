import { describe, expect, test } from 'vitest';
import { planReload } from '../src/config/config-reload.js';
import { parseProxyConfig, type ProxyConfigInput } from '../src/config/proxy-config.js';

const base: ProxyConfigInput = {
  listen: ['127.0.0.1:3333'],
  upstreams: ['stratum+tcp://farm:x@pool.example:3333'],
};

function config(overrides: Partial<ProxyConfigInput> = {}) {
  return parseProxyConfig({ ...base, ...overrides });
}

describe('planReload', () => {
  test('an unchanged file changes nothing', () => {
    expect(planReload(config(), config())).toMatchObject({ applied: [], refused: [] });
  });

  test('live keys apply; a key fixed at start keeps its running value beside a sibling that applies', () => {
    const running = config();
    const plan = planReload(
      running,
      config({
        listen: ['0.0.0.0:4444'],
        upstream: { jobsKept: 32, retireSeconds: 5 },
        vardiff: { initialDifficulty: 1024 },
        upstreams: [{ url: 'stratum+tcp://farm:x@other.example:3333', weight: 2 }],
      }),
    );
    expect(plan.applied).toEqual(
      expect.arrayContaining(['upstream.retireSeconds', 'vardiff.initialDifficulty', 'upstreams']),
    );
    expect(plan.refused.map((change) => change.key).sort()).toEqual(['listen', 'upstream.jobsKept']);
    expect(plan.refused.every((change) => change.reason.endsWith('restart to change it'))).toBe(true);
    expect(plan.config.listen).toEqual(running.listen);
    expect(plan.config.upstream.jobsKept).toBe(running.upstream.jobsKept);
    expect(plan.config.upstream.retireSeconds).toBe(5);
    expect(plan.config.vardiff.initialDifficulty).toBe(1024);
    expect(plan.config.upstreams[0]!.url.host).toBe('other.example');
  });

  test('an admin listener added in the file needs a restart and stays off', () => {
    const plan = planReload(config(), config({ metrics: '127.0.0.1:9100' }));
    expect(plan.refused.map((change) => change.key)).toEqual(['metrics']);
    expect(plan.config.metrics).toBeUndefined();
  });
});
