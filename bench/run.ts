import { runAnswerLatencyBench } from './answer-latency.js';
import { runAuditThroughputBench } from './audit-throughput.js';
import { runHostileMinersBench } from './hostile-miners.js';
import { runLedgerCommitBench } from './ledger-commit.js';
import { runMemoryBench } from './memory.js';
import { runProxyLoadBench } from './proxy-load.js';
import { runShareVerifyBench } from './share-verify.js';
import { runSplitAccuracyBench } from './split-accuracy.js';
import { runStatusPageBench } from './status-page.js';
import { runUpstreamFailoverBench } from './upstream-failover.js';
import { runTimelockEncryptBench } from './timelock-encrypt.js';

const benches: Record<string, () => void | Promise<void>> = {
  'share-verify': runShareVerifyBench,
  'ledger-commit': runLedgerCommitBench,
  'proxy-load': runProxyLoadBench,
  'split-accuracy': runSplitAccuracyBench,
  'hostile-miners': () => runHostileMinersBench(),
  'upstream-failover': () => runUpstreamFailoverBench(),
  'timelock-encrypt': runTimelockEncryptBench,
  'answer-latency': runAnswerLatencyBench,
  'status-page': runStatusPageBench,
  audit: runAuditThroughputBench,
  memory: runMemoryBench,
};

const wanted = process.argv.slice(2);
for (const [name, bench] of Object.entries(benches)) {
  if (wanted.length === 0 || wanted.includes(name)) await bench();
}
