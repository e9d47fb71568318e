/**
 * A bare Stratum V1 miner connection for the hostile-miner benchmark: dials from a chosen
 * local address (so the proxy sees the attacker and the honest miner as different hosts),
 * optionally never reads its socket, and otherwise follows just enough of the protocol to
 * hold a job (subscribe answer, set_difficulty, notify) and see answers by id.
 */
import { connect as dial, type Socket } from 'node:net';
import {
  decodeSubscribeResult,
  LineFramer,
  parsePoolMessage,
  serializeRequest,
  type JsonValue,
  type StratumResponse,
} from '../src/stratum/index.js';
import type { Job } from '../src/work/job.js';
import { toDifficulty, type Difficulty } from '../src/work/types.js';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  /** The local address to dial from (any 127.x.y.z on Linux loopback). */
  readonly localAddress: string;
}

export const SUBSCRIBE_ID = 1;
export const AUTHORIZE_ID = 2;

export class AttackClient {
  readonly socket: Socket;
  extranonce1: Uint8Array | undefined;
  extranonce2Size = 0;
  /** The difficulty of the current job (set_difficulty applies from the next notify). */
  difficulty: Difficulty = toDifficulty(1);
  job: Job | undefined;
  /** performance.now() of the connect call and of the first job. */
  readonly openedAt = performance.now();
  firstJobAt: number | undefined;
  /** Closed by the proxy (or the network), not by us. */
  closedByPeer = false;
  onJob: ((job: Job) => void) | undefined;
  onResponse: ((response: StratumResponse) => void) | undefined;
  onClose: (() => void) | undefined;
  private nextDifficulty: Difficulty = toDifficulty(1);
  private readonly framer = new LineFramer({ maxLineLength: 1024 * 1024 });
  private closing = false;

  /** `read: false` leaves every byte the proxy sends unread (the kernel window fills and closes). */
  constructor(endpoint: Endpoint, options: { readonly read: boolean }) {
    this.socket = dial({ host: endpoint.host, port: endpoint.port, localAddress: endpoint.localAddress });
    this.socket.setNoDelay(true);
    if (options.read) {
      this.socket.on('data', (chunk: Buffer) => {
        this.onData(chunk);
      });
    } else {
      this.socket.pause();
    }
    this.socket.on('error', () => undefined); // the close that follows is what counts
    this.socket.on('close', () => {
      if (!this.closing) this.closedByPeer = true;
      this.closing = true;
      this.onClose?.();
    });
  }

  get open(): boolean {
    return !this.closing;
  }

  send(data: string | Buffer): void {
    if (!this.closing) this.socket.write(data);
  }

  request(id: number, method: string, params: JsonValue[]): void {
    this.send(serializeRequest(id, method, params));
  }

  /** mining.subscribe then mining.authorize, pipelined. */
  handshake(username: string, password: string): void {
    this.send(
      serializeRequest(SUBSCRIBE_ID, 'mining.subscribe', ['hashrelay-bench-attacker/0.1']) +
        serializeRequest(AUTHORIZE_ID, 'mining.authorize', [username, password]),
    );
  }

  /** Resets the connection (no TIME_WAIT left to use up local ports). */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.socket.resetAndDestroy();
  }

  private onData(chunk: Buffer): void {
    const { lines, overflow } = this.framer.push(chunk);
    if (overflow) {
      this.close();
      return;
    }
    for (const line of lines) {
      const parsed = parsePoolMessage(line);
      if (!parsed.ok) continue;
      const message = parsed.message;
      switch (message.kind) {
        case 'response':
          if (message.id === SUBSCRIBE_ID) {
            const decoded = decodeSubscribeResult(message.result, SUBSCRIBE_ID);
            if (decoded.ok) {
              this.extranonce1 = decoded.value.extranonce1;
              this.extranonce2Size = decoded.value.extranonce2Size;
            }
          }
          this.onResponse?.(message);
          break;
        case 'mining.set_difficulty':
          this.nextDifficulty = message.difficulty;
          break;
        case 'mining.notify':
          this.job = message.job;
          this.difficulty = this.nextDifficulty;
          this.firstJobAt ??= performance.now();
          this.onJob?.(message.job);
          break;
        default:
          break;
      }
    }
  }
}
