import { performance } from 'node:perf_hooks';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { SqliteLedgerStore } from './sqlite-ledger-store.js';
import type { FromThread, ThreadError, ThreadInit, ToThread } from './sqlite-ledger-protocol.js';

/**
 * A database thread: owns a SQLite connection (the writer also its lock) and answers the
 * main thread's messages in order. better-sqlite3 is synchronous, so an fsync here stalls only
 * this thread, never the miners' sockets. Started by sqlite-ledger-thread.ts; not meant to be
 * imported.
 */

function serve(port: MessagePort, init: ThreadInit): void {
  const send = (message: FromThread): void => {
    port.postMessage(message);
  };
  let store: SqliteLedgerStore;
  try {
    store =
      init.role === 'writer'
        ? SqliteLedgerStore.openWriter(init.path, init.busyTimeoutMs)
        : SqliteLedgerStore.openReader(init.path, init.busyTimeoutMs);
  } catch (error) {
    send({ type: 'open-failed', error: threadError(error) });
    port.close();
    return;
  }
  send({ type: 'ready', ...store.lastIds() });
  const checkpoints =
    init.role === 'writer' && init.checkpointIntervalMs > 0
      ? setInterval(() => {
          try {
            store.checkpoint();
          } catch {
            // Not fatal: a failing disk fails the writer's next commit, which reports it.
          }
        }, init.checkpointIntervalMs)
      : undefined;

  port.on('message', (message: ToThread) => {
    const started = performance.now();
    try {
      let value: unknown;
      switch (message.type) {
        case 'commit':
          store.commit(message.batch);
          break;
        case 'query':
          value = store.query(message.query);
          break;
        case 'probe':
          store.probe(message.minFreeBytes);
          break;
        case 'prune':
          value = store.prune(message.before, message.maxRows);
          break;
        case 'close':
          clearInterval(checkpoints);
          store.close();
          break;
      }
      send({ type: 'done', seq: message.seq, value, seconds: (performance.now() - started) / 1000 });
      if (message.type === 'close') port.close();
    } catch (error) {
      send({ type: 'failed', seq: message.seq, error: threadError(error) });
    }
  });
}

function threadError(error: unknown): ThreadError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { code: typeof code === 'string' ? code : error.name, message: error.message };
  }
  return { code: 'ERR_UNKNOWN', message: String(error) };
}

if (parentPort === null) {
  throw new Error('sqlite-ledger-worker runs as a worker thread, started by openSqliteLedger');
}
serve(parentPort, workerData as ThreadInit);
