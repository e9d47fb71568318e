import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The parts of a V8 `.cpuprofile` (node --cpu-prof) that self time needs. */
interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: {
      readonly functionName: string;
      readonly url: string;
      readonly lineNumber: number;
    };
  }[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly ms: number;
  readonly fraction: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Self time by function (name and source position), largest first. */
  readonly functions: readonly SelfTime[];
  /** Self time by source file (node internals, each dependency, each of our modules). */
  readonly files: readonly SelfTime[];
}

/** Self time per function and per file from a `.cpuprofile`, idle time excluded from fractions. */
export function summarizeCpuProfile(path: string, root = process.cwd()): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byNode = new Map<number, number>();
  // timeDeltas[i] is the time before sample i: charge it to the sample before.
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const delta = profile.timeDeltas[i + 1] ?? 0;
    byNode.set(id, (byNode.get(id) ?? 0) + delta);
  }
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  let busyUs = 0;
  for (const node of profile.nodes) {
    const us = byNode.get(node.id) ?? 0;
    if (us === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    busyUs += us;
    const file = shortFile(url, root);
    const name = `${functionName === '' ? '(anonymous)' : functionName}${file === '' ? '' : ` ${file}:${lineNumber + 1}`}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    const fileKey = file === '' ? functionName : file;
    files.set(fileKey, (files.get(fileKey) ?? 0) + us);
  }
  const rank = (map: Map<string, number>): SelfTime[] =>
    [...map]
      .map(([name, us]) => ({ name, ms: us / 1000, fraction: busyUs === 0 ? 0 : us / busyUs }))
      .sort((a, b) => b.ms - a.ms);
  return { totalMs: busyUs / 1000, functions: rank(functions), files: rank(files) };
}

function shortFile(url: string, root: string): string {
  if (url === '') return '';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nodeModules = path.lastIndexOf('node_modules/');
  if (nodeModules >= 0) return path.slice(nodeModules + 'node_modules/'.length);
  return path.startsWith('/') ? relative(root, path) : path;
}
