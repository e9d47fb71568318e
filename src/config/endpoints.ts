import { redactCredentials } from '../log/redact.js';

/** Parsing of the address forms operators type: HOST:PORT and stratum+tcp://USER:PASS@HOST:PORT. */

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface UpstreamUrl extends HostPort {
  readonly tls: boolean;
  readonly username: string;
  readonly password: string;
}

export class EndpointError extends Error {}

function parsePort(text: string, whole: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new EndpointError(`'${whole}': port must be a number from 0 to 65535`);
  }
  return port;
}

/** HOST:PORT, [IPv6]:PORT, or :PORT (all interfaces). */
export function parseHostPort(text: string): HostPort {
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (bracketed) return { host: bracketed[1]!, port: parsePort(bracketed[2]!, text) };
  const colon = text.lastIndexOf(':');
  if (colon < 0) throw new EndpointError(`'${text}': expected HOST:PORT, e.g. 0.0.0.0:3333`);
  const host = text.slice(0, colon) || '0.0.0.0';
  return { host, port: parsePort(text.slice(colon + 1), text) };
}

/**
 * stratum+tcp://USER:PASS@HOST:PORT (or stratum+ssl:// / stratum+tls:// for TLS). USER and
 * PASS may be percent-encoded; PASS may be omitted (pools commonly accept "x").
 */
export function parseUpstreamUrl(text: string): UpstreamUrl {
  // The URL is echoed in every error below: never with its password.
  const shown = redactCredentials(text);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new EndpointError(`'${shown}': expected stratum+tcp://USER:PASS@HOST:PORT`);
  }
  const scheme = url.protocol.replace(/:$/, '');
  const tls = scheme === 'stratum+ssl' || scheme === 'stratum+tls';
  if (!tls && scheme !== 'stratum+tcp') {
    throw new EndpointError(
      `'${shown}': scheme must be stratum+tcp, stratum+ssl or stratum+tls, got '${scheme}'`,
    );
  }
  if (url.hostname === '') throw new EndpointError(`'${shown}': missing host`);
  if (url.port === '') throw new EndpointError(`'${shown}': missing port (pools have no default port)`);
  const username = decodeURIComponent(url.username);
  if (username === '') throw new EndpointError(`'${shown}': missing USER (the pool account or worker name)`);
  return {
    tls,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsePort(url.port, shown),
    username,
    password: url.password === '' ? 'x' : decodeURIComponent(url.password),
  };
}

/** The URL without its password, for logs and metrics. */
export function redactUpstreamUrl(upstream: UpstreamUrl): string {
  return `${upstream.tls ? 'stratum+ssl' : 'stratum+tcp'}://${upstream.username}@${upstream.host}:${upstream.port}`;
}
