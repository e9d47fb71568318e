import type { RouterControl } from '../miner-agent/agent.js';
import type { Proxy } from '../proxy/proxy.js';

/** The miner-agent driving a farm proxy in the same process: validators become weighted upstreams. */
export function proxyRouter(proxy: Proxy): RouterControl {
  return {
    setValidators(validators) {
      proxy.setUpstreams(
        validators.map((validator) => ({
          name: validator.name,
          // The username and password come from `credentials`, signed per session.
          url: { ...validator.endpoint, username: validator.name, password: '' },
          weight: validator.weight,
          credentials: validator.credentials,
        })),
      );
    },
    isHealthy(name) {
      return proxy.links.find((link) => link.name === name)?.healthy ?? false;
    },
  };
}
