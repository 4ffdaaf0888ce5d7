/**
 * Loads a config file in a worker thread. Parsing YAML with positions costs ~10 KB of transient
 * heap per check; in a worker that memory is returned to the system when the worker exits, instead
 * of staying in the service's resident set for its whole life (10,000 checks: ~95 MB vs ~240 MB).
 */
import { Worker } from 'node:worker_threads';
import { shareEqualParts } from '../util/share.js';
import { ConfigError, type Config, type ConfigProblem } from './load.js';

type Reply = { ok: true; config: Config } | { ok: false; problems: ConfigProblem[] } | { ok: false; error: string };

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.loader).then(({ loadConfigFile, ConfigError }) => {
  try {
    parentPort.postMessage({ ok: true, config: loadConfigFile(workerData.file, workerData.env) });
  } catch (err) {
    parentPort.postMessage(err instanceof ConfigError ? { ok: false, problems: err.problems } : { ok: false, error: String(err && err.message || err) });
  }
});`;

/** The config as kept for the service's life: one instance of each string and plain piece equal across checks. */
function sharedParts(config: Config): Config {
  const checks = shareEqualParts(config.checks);
  const fingerprints = new Map(checks.map((check) => [check.name, config.fingerprints.get(check.name) ?? '']));
  return { ...config, checks, fingerprints };
}

/** A config (with its ${file:} references) reads in milliseconds; a hung file system must not hang a reload. */
const LOAD_TIMEOUT_MS = 10_000;

export function loadConfigFileIsolated(file: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  return new Promise<Config>((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { file, env: { ...env }, loader: new URL('./load.js', import.meta.url).href },
    });
    const timer = setTimeout(() => {
      void worker.terminate();
      const message = `reading the config took over ${LOAD_TIMEOUT_MS / 1000}s (a \${file:} reference on a hung file system?)`;
      reject(new ConfigError([{ file, line: 1, col: 1, path: '', message }]));
    }, LOAD_TIMEOUT_MS);
    worker.once('message', (reply: Reply) => {
      clearTimeout(timer);
      void worker.terminate();
      if (reply.ok) resolve(sharedParts(reply.config));
      else if ('problems' in reply) reject(new ConfigError(reply.problems));
      else reject(new Error(reply.error));
    });
    worker.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
