import type net from 'node:net';
import { serializeRequest } from '../src/stratum/serialize.js';

export interface AddressLimits {
  /** Open connections per address; 0 = no limit. */
  readonly maxConnectionsPerAddress: number;
  /** Connections per address that have not finished subscribe and authorize; 0 = no limit. */
  readonly maxUnauthenticatedPerAddress: number;
  /** New connections per address per second, sustained; 0 = no limit. */
  readonly newConnectionsPerAddressPerSecond: number;
  /** New connections one address may open at once before the per-second rate applies. */
  readonly newConnectionBurstPerAddress: number;
}

export interface Refusal {
  /** The metric label. */
  readonly reason: 'total_per_address' | 'unauthenticated_per_address' | 'rate_per_address' | 'reject_budget';
  /** What the miner is shown (client.show_message) and the operator reads in the log. */
  readonly message: string;
}

interface AddressCount {
  total: number;
  unauthenticated: number;
  /** Token bucket for new connections: what is left, as of `refilledAt` (ms). */
  tokens: number;
  refilledAt: number;
}

/** How many opens between sweeps of addresses that have no connection and a full bucket. */
const SWEEP_EVERY_OPENS = 4096;

/**
 * Open connections counted per source address, so one address cannot take every extranonce
 * slot or file descriptor. IPv6 addresses count per /64 (what one host is usually given).
 */
export class ConnectionsByAddress {
  private readonly byAddress = new Map<string, AddressCount>();
  private readonly connections = new Map<number, { key: string; authenticated: boolean }>();
  private opensSinceSweep = 0;

  constructor(
    private limits: AddressLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Addresses remembered (open connections, or a bucket still refilling). */
  get addressCount(): number {
    return this.byAddress.size;
  }

  /** New limits (a configuration reload): they judge the next connections; none is closed. */
  setLimits(limits: AddressLimits): void {
    this.limits = limits;
  }

  /** Counts the connection in, or says which limit it is over (and leaves it uncounted). */
  open(connectionId: number, address: string): Refusal | undefined {
    const key = addressKey(address);
    const now = this.now();
    if (++this.opensSinceSweep >= SWEEP_EVERY_OPENS) this.sweep(now);
    const { maxConnectionsPerAddress: maxTotal, maxUnauthenticatedPerAddress: maxNew } = this.limits;
    const { newConnectionsPerAddressPerSecond: rate, newConnectionBurstPerAddress: burst } = this.limits;
    const count = this.byAddress.get(key) ?? { total: 0, unauthenticated: 0, tokens: burst, refilledAt: now };
    this.byAddress.set(key, count);
    refill(count, now, rate, burst);
    if (rate > 0 && count.tokens < 1)
      // A host reconnecting in a loop (a never-reading flood) is turned away before it costs a
      // slot or a parsed line; a farm behind one NAT address reconnecting at once fits the burst.
      return {
        reason: 'rate_per_address',
        message: `too many new connections from ${key} (limit ${rate} a second after a burst of ${burst}): reconnect more slowly`,
      };
    if (rate > 0) count.tokens -= 1;
    if (maxTotal > 0 && count.total >= maxTotal)
      return {
        reason: 'total_per_address',
        message: `too many connections from ${key} (limit ${maxTotal}): close some, or spread them over other proxies`,
      };
    if (maxNew > 0 && count.unauthenticated >= maxNew)
      return {
        reason: 'unauthenticated_per_address',
        message: `too many connections from ${key} still in subscribe/authorize (limit ${maxNew}): retry in a few seconds`,
      };
    count.total += 1;
    count.unauthenticated += 1;
    this.connections.set(connectionId, { key, authenticated: false });
    return undefined;
  }

  /** The connection finished subscribe and authorize. */
  authenticated(connectionId: number): void {
    const connection = this.connections.get(connectionId);
    if (connection === undefined || connection.authenticated) return;
    connection.authenticated = true;
    this.byAddress.get(connection.key)!.unauthenticated -= 1;
  }

  closed(connectionId: number): void {
    const connection = this.connections.get(connectionId);
    if (connection === undefined) return;
    this.connections.delete(connectionId);
    const count = this.byAddress.get(connection.key)!;
    count.total -= 1;
    if (!connection.authenticated) count.unauthenticated -= 1;
    // Kept while its bucket refills, so closing and reopening does not reset the rate.
    if (count.total === 0 && this.bucketFull(count, this.now())) this.byAddress.delete(connection.key);
  }

  /** Forgets addresses with no connection whose bucket has refilled (bounds the map under churn). */
  private sweep(now: number): void {
    this.opensSinceSweep = 0;
    for (const [key, count] of this.byAddress)
      if (count.total === 0 && this.bucketFull(count, now)) this.byAddress.delete(key);
  }

  private bucketFull(count: AddressCount, now: number): boolean {
    const { newConnectionsPerAddressPerSecond: rate, newConnectionBurstPerAddress: burst } = this.limits;
    refill(count, now, rate, burst);
    return rate <= 0 || count.tokens >= burst;
  }
}

function refill(count: AddressCount, now: number, rate: number, burst: number): void {
  if (rate <= 0) return;
  count.tokens = Math.min(burst, count.tokens + ((now - count.refilledAt) / 1000) * rate);
  count.refilledAt = now;
}

/** IPv4 (also IPv4-mapped IPv6) as is; IPv6 by its /64 prefix. */
export function addressKey(address: string): string {
  const plain = address.replace(/%.*$/, '');
  if (!plain.includes(':')) return plain;
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(plain)) return plain.slice(7);
  const [head = '', tail] = plain.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = [...headGroups, ...zeros, ...tailGroups].slice(0, 4);
  return `${groups.map((group) => parseInt(group, 16).toString(16)).join(':')}::/64`;
}

/** Tells the miner why (miners that show client.show_message display it), then hangs up. */
export function refuseConnection(socket: net.Socket, message: string): void {
  socket.on('error', () => undefined);
  socket.end(serializeRequest(null, 'client.show_message', [message]));
  // A peer that never closes its side is cut off; nothing is read from it meanwhile.
  socket.setTimeout(1000, () => socket.destroy());
}

/** At most one log line per interval for a stream of like events, with how many it stands for. */
export class LogThrottle {
  private suppressed = 0;
  private lastAt = -Infinity;

  constructor(private readonly intervalMs: number) {}

  /** The number of events the next log line stands for, or undefined if it is too soon to log. */
  note(now: number): number | undefined {
    this.suppressed += 1;
    if (now - this.lastAt < this.intervalMs) return undefined;
    this.lastAt = now;
    const count = this.suppressed;
    this.suppressed = 0;
    return count;
  }
}
