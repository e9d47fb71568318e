import net from 'node:net';
import tls from 'node:tls';
import type { ValidatorEndpoint } from '../src/chain/endpoint-commitment.js';
import { LineFramer } from '../src/stratum/line-framer.js';

export interface ProbeResult {
  readonly reachable: boolean;
  /** Why not, or how long the answer took. */
  readonly detail: string;
}

/**
 * Is a Stratum server answering there? Connects, sends `mining.subscribe`, and waits for any
 * JSON-RPC answer to it: a TCP accept alone does not prove a validator proxy is behind the port.
 */
export function probeStratumEndpoint(endpoint: ValidatorEndpoint, timeoutMs: number): Promise<ProbeResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = endpoint.tls
      ? tls.connect({ host: endpoint.host, port: endpoint.port, servername: endpoint.host })
      : net.connect({ host: endpoint.host, port: endpoint.port });
    const framer = new LineFramer({ maxLineLength: 64 * 1024 });
    let done = false;
    const finish = (result: ProbeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => {
      finish({ reachable: false, detail: `no Stratum answer within ${timeoutMs} ms` });
    }, timeoutMs);
    socket.once(endpoint.tls ? 'secureConnect' : 'connect', () => {
      socket.write('{"id":1,"method":"mining.subscribe","params":["hashrelay-probe/0.1"]}\n');
    });
    socket.on('data', (chunk: Buffer) => {
      const framed = framer.push(chunk);
      for (const line of framed.lines) {
        let message: unknown;
        try {
          message = JSON.parse(line);
        } catch {
          continue;
        }
        if (typeof message === 'object' && message !== null && (message as { id?: unknown }).id === 1) {
          finish({ reachable: true, detail: `answered in ${Math.round(performance.now() - started)} ms` });
        }
      }
      if (framed.overflow) finish({ reachable: false, detail: 'sent a line too long for Stratum' });
    });
    socket.on('error', (error: Error) => {
      finish({ reachable: false, detail: error.message });
    });
    socket.on('close', () => {
      finish({ reachable: false, detail: 'closed without answering' });
    });
  });
}

/** Probes many endpoints, at most `concurrency` at once. */
export async function probeAll<T>(
  items: readonly T[],
  endpointOf: (item: T) => ValidatorEndpoint,
  timeoutMs: number,
  concurrency = 16,
): Promise<Map<T, ProbeResult>> {
  const results = new Map<T, ProbeResult>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      results.set(item, await probeStratumEndpoint(endpointOf(item), timeoutMs));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
