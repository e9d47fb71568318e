/**
 * Per-address connection limits switched off: a load generator dials every miner from one
 * address, which the proxy would otherwise take for one host opening too many connections.
 */
export const ADDRESS_LIMITS_OFF = {
  maxConnectionsPerAddress: 0,
  maxUnauthenticatedPerAddress: 0,
  newConnectionsPerAddressPerSecond: 0,
} as const;
