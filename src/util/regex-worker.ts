/**
 * Runs user regular expressions against text a target controls, off the main thread and under a deadline.
 * A backtracking pattern such as ^(a+)+$ can take minutes on a 40-byte input; on the main thread that would
 * freeze every other check, the API and shutdown. Here the match runs in a worker thread, and a match still
 * running when the signal aborts has its worker terminated (V8 interrupts the regex at once) and replaced.
 * Patterns keep full JavaScript syntax; a round trip costs tens of microseconds.
 */
import { Worker } from 'node:worker_threads';

/** Workers running at once; further matches wait for one (each still bounded by its own signal). */
const MAX_WORKERS = 8;
/** Idle workers kept warm (unref'd, a few MiB each): spawning one costs milliseconds of CPU, a match microseconds. */
const MAX_IDLE = MAX_WORKERS;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const compiled = new Map();
parentPort.on('message', ({ id, source, flags, text }) => {
  let re = compiled.get(flags + '/' + source);
  if (!re) {
    if (compiled.size > 500) compiled.clear();
    re = new RegExp(source, flags);
    compiled.set(flags + '/' + source, re);
  }
  re.lastIndex = 0;
  parentPort.postMessage({ id, matched: re.test(text) });
});
`;

/** The match did not finish before its signal aborted (the check's deadline, or shutdown). */
export class MatchTimeout extends Error {
  constructor(readonly elapsedMs: number) {
    super(`pattern match stopped after ${Math.round(elapsedMs)} ms`);
    this.name = 'MatchTimeout';
  }
}

interface Job {
  id: number;
  resolve(matched: boolean): void;
  reject(err: Error): void;
}

const idle: Worker[] = [];
let running = 0;
const waiting: (() => void)[] = [];
const jobs = new Map<Worker, Job>();
let nextId = 1;

function spawn(): Worker {
  const worker = new Worker(WORKER_SOURCE, { eval: true });
  worker.on('message', (m: { id: number; matched: boolean }) => {
    const job = jobs.get(worker);
    if (!job || job.id !== m.id) return;
    jobs.delete(worker);
    job.resolve(m.matched);
  });
  worker.on('error', (err) => {
    const job = jobs.get(worker);
    jobs.delete(worker);
    job?.reject(err);
  });
  return worker;
}

async function acquire(signal: AbortSignal): Promise<Worker> {
  while (running >= MAX_WORKERS) {
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = waiting.indexOf(wake);
        if (i >= 0) waiting.splice(i, 1);
        reject(new MatchTimeout(0));
      };
      const wake = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      waiting.push(wake);
    });
  }
  running += 1;
  const worker = idle.pop() ?? spawn();
  // Referenced while it matches (the process waits for the answer), not while idle (a pool never keeps it alive).
  worker.ref();
  return worker;
}

function release(worker: Worker | undefined): void {
  running -= 1;
  if (worker && idle.length < MAX_IDLE) {
    worker.unref();
    idle.push(worker);
  } else void worker?.terminate();
  waiting.shift()?.();
}

/** Tests `pattern` against `text`; rejects with MatchTimeout when `signal` aborts first. */
export async function testPattern(pattern: RegExp, text: string, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) throw new MatchTimeout(0);
  const started = performance.now();
  const worker = await acquire(signal);
  const id = nextId++;
  let healthy = true;
  try {
    return await new Promise<boolean>((resolve, reject) => {
      const onAbort = () => {
        jobs.delete(worker);
        healthy = false;
        reject(new MatchTimeout(performance.now() - started));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      jobs.set(worker, {
        id,
        resolve: (matched) => {
          signal.removeEventListener('abort', onAbort);
          resolve(matched);
        },
        reject: (err) => {
          signal.removeEventListener('abort', onAbort);
          healthy = false;
          reject(err);
        },
      });
      worker.postMessage({ id, source: pattern.source, flags: pattern.flags.replace(/[gy]/g, ''), text });
    });
  } finally {
    // A worker stopped mid-match (or broken) is terminated; V8 interrupts a running regex within milliseconds.
    if (healthy) release(worker);
    else {
      void worker.terminate();
      release(undefined);
    }
  }
}
