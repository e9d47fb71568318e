import { describe, expect, test } from 'vitest';
import { EndpointError } from '../src/config/endpoints.js';
import { formatEndpointCommitment, parseEndpointCommitment } from '../src/chain/endpoint-commitment.js';

describe('validator endpoint commitments', () => {
  test('round trip for TCP, TLS and IPv6', () => {
    for (const endpoint of [
      { tls: false, host: 'pool.example.org', port: 3333 },
      { tls: true, host: '203.0.113.7', port: 443 },
      { tls: false, host: '2001:db8::1', port: 3334 },
    ]) {
      const text = formatEndpointCommitment(endpoint);
      expect(parseEndpointCommitment(text)).toEqual(endpoint);
    }
    expect(formatEndpointCommitment({ tls: false, host: '2001:db8::1', port: 1 })).toBe(
      'stratum+tcp://[2001:db8::1]:1',
    );
  });

  test('refuses credentials, other schemes and undialable addresses, saying why', () => {
    expect(() => parseEndpointCommitment('stratum+tcp://acct:pass@pool.example.org:3333')).toThrow(
      /must not carry credentials/,
    );
    expect(() => parseEndpointCommitment('{"pool":"x"}')).toThrow(EndpointError);
    expect(() => parseEndpointCommitment('http://pool.example.org:80')).toThrow(/stratum\+tcp/);
    expect(() => parseEndpointCommitment('stratum+tcp://pool.example.org')).toThrow(EndpointError);
    expect(() => parseEndpointCommitment('stratum+tcp://0.0.0.0:3333')).toThrow(/dialable/);
    expect(() => formatEndpointCommitment({ tls: false, host: '0.0.0.0', port: 3333 })).toThrow(
      /public host/,
    );
    expect(() => formatEndpointCommitment({ tls: false, host: 'a'.repeat(120), port: 3333 })).toThrow(/128/);
  });
});
