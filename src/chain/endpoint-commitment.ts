import { EndpointError, parseHostPort } from '../config/endpoints.js';

/**
 * What a validator publishes on chain as its commitment: the Stratum URL of its proxy,
 * `stratum+tcp://HOST:PORT` or `stratum+ssl://HOST:PORT`, and nothing else — no user, no
 * password (TaoHASH published pool passwords in clear). Farms authorize with their own signed
 * hotkey, so the URL is all they need.
 */
export interface ValidatorEndpoint {
  readonly tls: boolean;
  readonly host: string;
  readonly port: number;
}

/** Commitments are small on chain (the runtime's Raw fields hold at most 128 bytes). */
export const MAX_ENDPOINT_COMMITMENT_BYTES = 128;

export function formatEndpointCommitment(endpoint: ValidatorEndpoint): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  const text = `${endpoint.tls ? 'stratum+ssl' : 'stratum+tcp'}://${host}:${endpoint.port}`;
  if (Buffer.byteLength(text) > MAX_ENDPOINT_COMMITMENT_BYTES)
    throw new EndpointError(`endpoint ${text} is longer than ${MAX_ENDPOINT_COMMITMENT_BYTES} bytes`);
  if (endpoint.port === 0 || ['0.0.0.0', '::', ''].includes(endpoint.host))
    throw new EndpointError(
      `endpoint ${text} is not something a farm can dial: publish the public host and port of the validator proxy`,
    );
  return text;
}

/** Reads a published commitment; throws EndpointError saying what is wrong with it. */
export function parseEndpointCommitment(text: string): ValidatorEndpoint {
  const match = /^stratum\+(tcp|ssl|tls):\/\/([^/@?#\s]+)\/?$/.exec(text.trim());
  if (match === null) {
    const hint = text.includes('@') ? ' (it must not carry credentials)' : '';
    throw new EndpointError(
      `commitment '${text.slice(0, 80)}' is not stratum+tcp://HOST:PORT or stratum+ssl://HOST:PORT${hint}`,
    );
  }
  const { host, port } = parseHostPort(match[2]!);
  if (port === 0 || host === '0.0.0.0')
    throw new EndpointError(`commitment '${text}' has no dialable address`);
  return { tls: match[1] !== 'tcp', host, port };
}
