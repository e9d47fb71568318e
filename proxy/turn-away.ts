import type net from 'node:net';
import { addressKey, refuseConnection } from './connection-limits.js';

/** Addresses remembered before those told longer than an interval ago are dropped. */
const SWEEP_SIZE = 4096;

/**
 * How a refused connection is turned away. The first from an address in each interval is told
 * why (client.show_message), then ended, with a timer for a peer that never closes its side.
 * The rest of a storm from that address in the same interval are closed at once: no write, no
 * end, no timer, so a host reconnecting in a loop costs the proxy little more than Node's own
 * accept, and a NAT'd farm retrying after a refusal still sees the reason once a second.
 */
export class TurnAway {
  private readonly toldAt = new Map<string, number>();

  constructor(private readonly intervalMs = 1000) {}

  /** Addresses told recently (bounded: swept when large). */
  get size(): number {
    return this.toldAt.size;
  }

  /** Turns the connection away; 'told' if it was shown `message`, 'closed' if just closed. */
  refuse(socket: net.Socket, message: string, now: number): 'told' | 'closed' {
    const key = addressKey(socket.remoteAddress ?? '');
    const told = this.toldAt.get(key);
    if (told !== undefined && now - told < this.intervalMs) {
      socket.on('error', () => undefined);
      socket.destroy();
      return 'closed';
    }
    if (this.toldAt.size >= SWEEP_SIZE) this.sweep(now);
    this.toldAt.set(key, now);
    refuseConnection(socket, message);
    return 'told';
  }

  private sweep(now: number): void {
    for (const [key, at] of this.toldAt) if (now - at >= this.intervalMs) this.toldAt.delete(key);
  }
}
