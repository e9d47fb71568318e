import { parentPort, type MessagePort } from 'node:worker_threads';
import { PageChecker } from './audit-page.js';
import type { FromAuditWorker, ToAuditWorker } from './audit-protocol.js';

/**
 * A share-checking thread of `hashrelay audit`: checks its part of each page it is sent, one
 * after another, and sends back the verdicts (the codes' buffer moved, not copied).
 * Started by audit-threads.ts; not meant to be imported.
 */

function serve(port: MessagePort): void {
  const checker = new PageChecker();
  port.on('message', (message: ToAuditWorker) => {
    try {
      checker.learn(message.jobs, message.forget);
      const verdicts = checker.check(message.page, message.part);
      const reply: FromAuditWorker = { seq: message.seq, verdicts };
      port.postMessage(reply, [verdicts.codes.buffer as ArrayBuffer]);
    } catch (error) {
      const reply: FromAuditWorker = {
        seq: message.seq,
        error: error instanceof Error ? error.message : String(error),
      };
      port.postMessage(reply);
    }
  });
}

if (parentPort === null) {
  throw new Error('audit-worker runs as a worker thread, started by hashrelay audit');
}
serve(parentPort);
