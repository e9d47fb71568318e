import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseAgentConfig } from '../src/config/agent-config.js';
import { parseProxyConfig, type ProxyConfig } from '../src/config/proxy-config.js';
import { parseValidatorConfig } from '../src/config/validator-config.js';
import { REPO_ROOT } from './support/cli.js';
import { findBinary } from './support/prometheus.js';

/**
 * deploy/ is never run here (no container engine), so everything that can be checked without
 * one is: compose files by `docker compose config`, example configs by hashrelay's own schemas,
 * Prometheus, HAProxy and systemd files by their own checkers, and the ports and timeouts that
 * must agree across them.
 */

const DEPLOY = join(REPO_ROOT, 'deploy');
const COMPOSE_FILES = ['farm/compose.yaml', 'validator/compose.yaml'];

function read(path: string): string {
  return readFileSync(join(DEPLOY, path), 'utf8');
}

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(read(path)) as Record<string, unknown>;
}

function run(
  command: string,
  args: readonly string[],
  cwd = DEPLOY,
): { status: number | null; output: string } {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** `docker compose` (v2), else `docker-compose` (v1, Debian's package); undefined if neither runs. */
function composeCommand(): readonly string[] | undefined {
  if (run('docker', ['compose', 'version']).status === 0) return ['docker', 'compose'];
  if (run('docker-compose', ['version']).status === 0) return ['docker-compose'];
  return undefined;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** The example config each deployment runs, parsed by the schema the command uses. */
function farmConfig(): ProxyConfig {
  return parseAgentConfig(readJson('config/farm.json')).proxy;
}
function proxyConfig(): ProxyConfig {
  return parseProxyConfig(readJson('config/proxy.json'));
}
function validatorConfig(): ProxyConfig {
  return parseValidatorConfig(readJson('config/validator.json')).proxy;
}

function seconds(duration: string): number {
  const match = /^(\d+)(s|m)?$/.exec(duration);
  if (match === null) throw new Error(`cannot read duration ${duration}`);
  return Number(match[1]) * (match[2] === 'm' ? 60 : 1);
}

const COMPOSE = composeCommand();
if (COMPOSE === undefined)
  console.warn(
    'deploy-compose: neither `docker compose` nor `docker-compose` runs: skipping `config` checks',
  );

describe.skipIf(COMPOSE === undefined)(
  `compose files${COMPOSE === undefined ? ' (skipped: no docker compose or docker-compose)' : ''}`,
  () => {
    test.each(COMPOSE_FILES)('%s: `compose config` accepts it', (file) => {
      const [command, ...args] = COMPOSE!;
      const result = run(
        command!,
        [...args, '-f', join(DEPLOY, file), 'config', '-q'],
        dirname(join(DEPLOY, file)),
      );
      expect(result.output).toBe('');
      expect(result.status).toBe(0);
    });
  },
);

describe('compose files, read as text', () => {
  test.each(COMPOSE_FILES)('%s: every file it mounts from the repository exists', (file) => {
    const dir = dirname(join(DEPLOY, file));
    const sources = [...read(file).matchAll(/^\s*-\s*'?(\.\.\/[^:']+):/gm)].map((m) => m[1]!);
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources) expect(existsSync(resolve(dir, source)), source).toBe(true);
    const build = /context: (\S+)\n\s+dockerfile: (\S+)/.exec(read(file));
    expect(build).not.toBeNull();
    expect(existsSync(resolve(dir, build![1]!, build![2]!))).toBe(true);
  });

  test('each deployment stops slower than it drains, and Prometheus scrapes the admin port it listens on', () => {
    const deployments = [
      {
        compose: 'farm/compose.yaml',
        service: 'farm',
        config: farmConfig(),
        prometheus: 'prometheus/farm.yml',
      },
      {
        compose: 'validator/compose.yaml',
        service: 'validator',
        config: validatorConfig(),
        prometheus: 'prometheus/validator.yml',
      },
    ];
    for (const { compose, service, config, prometheus } of deployments) {
      const text = read(compose);
      const grace = /stop_grace_period: (\S+)/.exec(text)?.[1];
      expect(seconds(grace!)).toBeGreaterThan(config.drainSeconds);
      expect(read(prometheus)).toContain(`'${service}:9464'`);
      expect(text).toContain('http://127.0.0.1:9464/readyz');
    }
    expect(farmConfig().metrics).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(validatorConfig().metrics).toEqual({ host: '0.0.0.0', port: 9464 });
  });

  test('Grafana gets the provisioning and the dashboards where the provider looks', () => {
    const provider = read('grafana/provisioning/dashboards/hashrelay.yaml');
    const path = /path: (\S+)/.exec(provider)?.[1];
    expect(path).toBe('/var/lib/grafana/dashboards');
    for (const [file, dashboards] of [
      ['farm/compose.yaml', ['farm', 'proxy']],
      ['validator/compose.yaml', ['validator', 'proxy']],
    ] as const) {
      const text = read(file);
      expect(text).toContain('../grafana/provisioning:/etc/grafana/provisioning:ro');
      for (const name of dashboards)
        expect(text).toContain(`../grafana/dashboards/${name}.json:${path!}/${name}.json:ro`);
    }
    expect(read('grafana/provisioning/datasources/prometheus.yaml')).toContain('url: http://prometheus:9090');
  });
});

describe('example configs', () => {
  test('farm.json is a valid `hashrelay miner-agent` config', () => {
    const config = parseAgentConfig(readJson('config/farm.json'));
    expect(config.proxy.routing.mode).toBe('weighted');
    expect(config.hotkey.file).toBe('/run/secrets/farm_hotkey');
    expect(config.proxy.adminTokenFile).toBe('/run/secrets/admin_token');
    expect(config.proxy.ledger).toMatch(/^sqlite:\/var\/lib\/hashrelay\//);
  });

  test('proxy.json is a valid `hashrelay proxy` config', () => {
    const config = proxyConfig();
    expect(config.upstreams.length).toBeGreaterThanOrEqual(2);
    expect(config.ledger).toMatch(/^sqlite:\/var\/lib\/hashrelay\//);
  });

  test('validator.json is a valid `hashrelay validator` config', () => {
    const config = parseValidatorConfig(readJson('config/validator.json'));
    expect(config.hotkey.file).toBe('/run/secrets/validator_hotkey');
    expect(config.proxy.routing.mode).toBe('failover');
    expect(config.proxy.ledger).toBe('postgres://hashrelay@postgres:5432/hashrelay');
    expect(config.weights.stateDir).toMatch(/^\/var\/lib\/hashrelay\//);
    const { slotBytes, minerExtranonce2Size } = config.proxy.extranonce;
    // Farm proxies are its miners: they need room for their own slot and their miners' space
    // (2 + 4 bytes by default) inside a pool's usual 8 bytes of extranonce2.
    expect(minerExtranonce2Size).toBeGreaterThanOrEqual(6);
    expect(slotBytes + minerExtranonce2Size).toBeLessThanOrEqual(8);
  });

  test('nothing under deploy/ holds a secret: no passwords in URLs, no token or mnemonic values', () => {
    const problems: string[] = [];
    for (const path of filesUnder(DEPLOY)) {
      const name = relative(DEPLOY, path);
      const text = readFileSync(path, 'utf8');
      for (const match of text.matchAll(/stratum\+(?:tcp|ssl):\/\/[^:@\s/"]+:([^@\s"]*)@/g))
        if (match[1] !== 'x' && match[1] !== '') problems.push(`${name}: a password in ${match[0]}`);
      for (const match of text.matchAll(/(?:postgres|postgresql):\/\/[^@\s"]*:[^@\s"]*@/g))
        problems.push(`${name}: a password in ${match[0]}`);
      if (/PRIVATE KEY|secretPhrase|secretSeed/.test(text)) problems.push(`${name}: key material`);
      if (path.endsWith('.json'))
        for (const match of text.matchAll(/"(\w*(?:token|password|mnemonic|secret|seed))"\s*:/gi))
          problems.push(`${name}: key ${match[1]!}`);
    }
    expect(problems).toEqual([]);
  });
});

const PROMTOOL = findBinary('promtool');
describe.skipIf(PROMTOOL === undefined)(
  `prometheus configs${PROMTOOL === undefined ? ' (skipped: no promtool; .ci/run installs prometheus)' : ''}`,
  () => {
    test.each(['prometheus/farm.yml', 'prometheus/validator.yml'])('%s: promtool check config', (file) => {
      const result = run(PROMTOOL!, ['check', 'config', join(DEPLOY, file)]);
      expect(result.output).toContain('SUCCESS');
      expect(result.status).toBe(0);
    });
  },
);

const HAPROXY = findBinary('haproxy');
describe('HAProxy', () => {
  test('checks each instance on the admin port the example configs listen on, at /readyz', () => {
    const text = read('haproxy/haproxy.cfg');
    expect(text).toMatch(/^\s*mode tcp$/m);
    expect(text).toContain('http-check send meth GET uri /readyz');
    expect(text).toContain(`check port ${proxyConfig().metrics!.port}`);
    expect([...text.matchAll(/^\s*server \S+ \S+:(\d+)/gm)].map((m) => Number(m[1]))).toEqual(
      Array(3).fill(proxyConfig().listen[0]!.address.port),
    );
  });

  test.skipIf(HAPROXY === undefined)(
    `haproxy -c accepts it${HAPROXY === undefined ? ' (skipped: no haproxy binary)' : ''}`,
    () => {
      const result = run(HAPROXY!, ['-c', '-f', join(DEPLOY, 'haproxy/haproxy.cfg')]);
      expect(result.output).toContain('Configuration file is valid');
      expect(result.status).toBe(0);
    },
  );
});

const UNITS = ['hashrelay-proxy.service', 'hashrelay-miner-agent.service', 'hashrelay-validator.service'];
const SYSTEMD_ANALYZE = findBinary('systemd-analyze');
describe('systemd units', () => {
  test.each(UNITS)('%s: hardened, restarts on failure, stops slower than it drains', (unit) => {
    const text = read(`systemd/${unit}`);
    for (const line of [
      'User=hashrelay',
      'ProtectSystem=strict',
      'ReadWritePaths=/var/lib/hashrelay',
      'NoNewPrivileges=yes',
      'Restart=on-failure',
      'KillSignal=SIGTERM',
      'CapabilityBoundingSet=',
    ])
      expect(text, line).toMatch(new RegExp(`^${line}$`, 'm'));
    expect(text).not.toMatch(/^MemoryDenyWriteExecute=yes$/m);
    const timeout = Number(/^TimeoutStopSec=(\d+)$/m.exec(text)?.[1]);
    const config = /--config \/etc\/hashrelay\/(\w+)\.json/.exec(text)?.[1];
    const drain =
      config === 'farm'
        ? farmConfig().drainSeconds
        : config === 'proxy'
          ? proxyConfig().drainSeconds
          : validatorConfig().drainSeconds;
    expect(timeout).toBeGreaterThan(drain);
  });

  test.skipIf(SYSTEMD_ANALYZE === undefined)(
    `systemd-analyze verify finds nothing wrong${SYSTEMD_ANALYZE === undefined ? ' (skipped: no systemd-analyze)' : ''}`,
    () => {
      const result = run(SYSTEMD_ANALYZE!, [
        'verify',
        '--man=no',
        ...UNITS.map((u) => join(DEPLOY, 'systemd', u)),
      ]);
      // Where node is not at /usr/bin/node, verify says so: that is the host, not the unit.
      const complaints = result.output
        .split('\n')
        .filter((line) => line !== '' && !/is not executable/.test(line));
      expect(complaints).toEqual([]);
    },
  );
});

describe('Dockerfile', () => {
  test('node:20-slim, npm ci (the committed lockfile), build, prune, and every path it copies exists', () => {
    const text = read('Dockerfile');
    expect(text).toMatch(/^FROM node:20-slim AS build$/m);
    expect(text).toContain('npm ci');
    expect(text).toContain('npm run build');
    // What test/cli-production-install.test.ts reproduces: the image has production dependencies only.
    expect(text).toContain('npm prune --omit=dev');
    expect(text).toContain('ENTRYPOINT ["node", "/app/dist/cli/main.js"]');
    const copies = [...text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(' '));
    expect(copies).toContain('src');
    for (const path of copies) expect(existsSync(join(REPO_ROOT, path)), path).toBe(true);
    // The TypeScript build (tsconfig.build.json) compiles these folders: the image must have them all.
    const build = JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.build.json'), 'utf8')) as {
      include: string[];
    };
    for (const folder of build.include) expect(copies, folder).toContain(folder);
  });
});
