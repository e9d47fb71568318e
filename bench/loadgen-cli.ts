/**
 * The load generator on its own, against any Stratum V1 endpoint:
 *
 *   node dist/bench/loadgen-cli.js --endpoint HOST:PORT [--connections 1000] [--rate 1000]
 *        [--seconds 20] [--username bench.loadgen] [--password x] [--batch 500]
 *        [--version-mask 1fffe000 (0: no version rolling)] [--max-hashes 65536]
 *
 * It prints the handshake time, the answers (accepted, refused, errors) and their latency.
 * Shares are valid for the difficulty the endpoint assigns; above a tiny difficulty this
 * process's own hashing bounds the rate (see `unsolved`).
 */
import { parseArgs } from 'node:util';
import { LoadGenerator, ReplyKind } from './loadgen.js';

function percentile(sorted: Float64Array, q: number): string {
  if (sorted.length === 0) return '—';
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(2);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      endpoint: { type: 'string' },
      connections: { type: 'string', default: '1000' },
      rate: { type: 'string', default: '1000' },
      seconds: { type: 'string', default: '20' },
      username: { type: 'string', default: 'bench.loadgen' },
      password: { type: 'string', default: 'x' },
      batch: { type: 'string', default: '500' },
      'version-mask': { type: 'string', default: '1fffe000' },
      'max-hashes': { type: 'string', default: '65536' },
    },
  });
  const match = /^(.+):(\d+)$/.exec(values.endpoint ?? '');
  if (match === null) throw new Error('--endpoint HOST:PORT is required');
  const number = (name: string, text: string): number => {
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0)
      throw new Error(`--${name} must be a positive number, got '${text}'`);
    return value;
  };
  const loadgen = new LoadGenerator({
    host: match[1]!,
    port: Number(match[2]),
    connections: Math.round(number('connections', values.connections)),
    username: values.username,
    password: values.password,
    batchSize: Math.round(number('batch', values.batch)),
    versionRollingMask: Number.parseInt(values['version-mask'], 16),
    maxHashesPerShare: Math.round(number('max-hashes', values['max-hashes'])),
  });
  try {
    const { seconds: connectSeconds } = await loadgen.connect();
    console.log(`${loadgen.ready} connections ready in ${connectSeconds.toFixed(1)} s`);
    const log = await loadgen.submitAtRate({
      rate: number('rate', values.rate),
      seconds: number('seconds', values.seconds),
    });
    let accepted = 0;
    let refused = 0;
    let unanswered = 0;
    const latencies: number[] = [];
    for (let i = 0; i < log.count; i++) {
      if (log.reply[i] === ReplyKind.accepted) {
        accepted++;
        latencies.push(log.replyAt[i]! - log.sentAt[i]!);
      } else if (log.reply[i] === ReplyKind.refused) refused++;
      else if (log.reply[i] === ReplyKind.none) unanswered++;
    }
    const sorted = Float64Array.from(latencies).sort();
    const window = (log.endedAt - log.startedAt) / 1000;
    console.log(
      `sent ${log.count} (${(log.count / window).toFixed(0)}/s), accepted ${accepted}, refused ${refused}, ` +
        `unanswered ${unanswered}, not sent ${log.skipped}, unsolved ${log.unsolved}`,
    );
    console.log(
      `answer latency ms: p50 ${percentile(sorted, 0.5)} / p99 ${percentile(sorted, 0.99)} / max ${percentile(sorted, 1)}`,
    );
    for (const [error, count] of log.errors) console.log(`  ${count}× error ${error}`);
    for (const [reason, count] of loadgen.disconnects) console.log(`  ${count}× disconnected: ${reason}`);
  } finally {
    loadgen.close();
  }
}

await main();
