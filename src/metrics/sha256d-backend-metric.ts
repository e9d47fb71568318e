import { Gauge, type Registry } from 'prom-client';
import { sha256dSelection } from '../work/sha256d-native.js';

/**
 * `hashrelay_sha256d_backend{backend}` = 1: which sha256d share checks use — `sha-ni`,
 * `armv8-sha2` or `portable` (the native addon) or `js` (the fallback: the addon did not build
 * or load, or HASHRELAY_SHA256D=js). An operator alerts on `backend="js"`.
 */
export function registerSha256dBackendMetric(
  registry: Registry,
  backend = sha256dSelection.backend.name,
): void {
  const gauge = new Gauge({
    name: 'hashrelay_sha256d_backend',
    help: 'The sha256d implementation share checks use (1): sha-ni, armv8-sha2 or portable (native addon), or js (fallback).',
    labelNames: ['backend'],
    registers: [registry],
  });
  gauge.set({ backend }, 1);
}
