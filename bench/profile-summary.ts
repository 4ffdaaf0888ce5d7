/**
 * Summarises V8 profiles written by `node --cpu-prof` and `node --heap-prof`: the functions with the most self time
 * and the sites that allocated the most bytes (sampled), each with its share of the whole.
 *   node dist/bench/profile-summary.js <file.cpuprofile|file.heapprofile>... [--top=N]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: CallFrame }>;
  samples: number[];
  timeDeltas: number[];
}

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

/** `name file:line`, with paths shortened to what follows node_modules/ or the project's dist/. */
function site(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  const file = frame.url.replace(/^file:\/\//, '');
  const short = file.includes('node_modules/')
    ? file.slice(file.lastIndexOf('node_modules/') + 'node_modules/'.length)
    : file.includes('/dist/')
      ? file.slice(file.lastIndexOf('/dist/') + '/dist/'.length)
      : path.basename(file);
  return `${name} ${short}:${frame.lineNumber + 1}`;
}

function printTop(title: string, totals: Map<string, number>, unit: (v: number) => string, top: number): void {
  const sum = [...totals.values()].reduce((a, b) => a + b, 0);
  console.log(`${title} (total ${unit(sum)})`);
  const sorted = [...totals].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [where, value] of sorted)
    console.log(`  ${((value / sum) * 100).toFixed(1).padStart(5)}%  ${unit(value).padStart(10)}  ${where}`);
}

function cpuTop(file: string, top: number): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const frames = new Map(profile.nodes.map((n) => [n.id, site(n.callFrame)]));
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const where = frames.get(id) ?? '?';
    totals.set(where, (totals.get(where) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  printTop(`self time, ${path.basename(file)}`, totals, (us) => `${(us / 1000).toFixed(0)} ms`, top);
}

function heapTop(file: string, top: number): void {
  const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode };
  const totals = new Map<string, number>();
  const walk = (node: HeapNode) => {
    const where = site(node.callFrame);
    if (node.selfSize > 0) totals.set(where, (totals.get(where) ?? 0) + node.selfSize);
    node.children.forEach(walk);
  };
  walk(head);
  printTop(`allocated bytes (sampled), ${path.basename(file)}`, totals, (b) => `${(b / 1024).toFixed(0)} KiB`, top);
}

const top = Number(process.argv.find((a) => a.startsWith('--top='))?.slice('--top='.length) ?? 12);
for (const file of process.argv.slice(2).filter((a) => !a.startsWith('--'))) {
  if (file.endsWith('.heapprofile')) heapTop(file, top);
  else cpuTop(file, top);
  console.log('');
}
