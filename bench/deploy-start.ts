/**
 * How deploy/ starts the proxy, read from its systemd unit so a bench cannot drift from it: the
 * unit's `Environment=` variables (NODE_OPTIONS, MALLOC_ARENA_MAX…) and node's flags before the
 * script in `ExecStart=`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PROXY_UNIT = fileURLToPath(
  new URL('../../deploy/systemd/hashrelay-proxy.service', import.meta.url),
);

export interface UnitStart {
  readonly env: Readonly<Record<string, string>>;
  readonly nodeFlags: readonly string[];
}

/** The variables a systemd unit sets with `Environment=` (systemd's quoting, simple cases). */
export function unitEnvironment(unitText: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of unitText.split('\n')) {
    const match = /^Environment=(.*)$/.exec(line.trim());
    if (match === null) continue;
    for (const assignment of match[1]!.match(/"[^"]*"|\S+/g) ?? []) {
      const text = assignment.startsWith('"') ? assignment.slice(1, -1) : assignment;
      const equals = text.indexOf('=');
      if (equals > 0) env[text.slice(0, equals)] = text.slice(equals + 1);
    }
  }
  return env;
}

export function unitStart(unitText: string): UnitStart {
  const exec = /^ExecStart=\S*node((?:\s+-\S+)*)\s/m.exec(unitText);
  return {
    env: unitEnvironment(unitText),
    nodeFlags: exec?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [],
  };
}

/** deploy/systemd/hashrelay-proxy.service's start. */
export function proxyUnitStart(): UnitStart {
  return unitStart(readFileSync(PROXY_UNIT, 'utf8'));
}
