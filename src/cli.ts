#!/usr/bin/env node
/** forgewatch's command line: serve | check | validate | init. Exit codes: 0 ok, 1 a check fails, 2 config or usage error. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Monitor } from './checks/monitor.js';
import { buildReport, formatTable, selectChecks, type CheckReport } from './checks/report.js';
import { defaultConfigText } from './config/default.js';
import { INIT_TEMPLATE } from './config/init-template.js';
import { ConfigError, loadConfigFile, parseConfig, type Config } from './config/load.js';
import { loadConfigFileIsolated } from './config/load-isolated.js';
import { parseDuration } from './config/units.js';
import { createLogger } from './log.js';
import { startService } from './service.js';

const USAGE = `forgewatch — health, TLS, container and port monitoring

usage:
  forgewatch [serve] [-c PATH] [--listen HOST:PORT]
  forgewatch check   [-c PATH] [--json] [--name N]... [--type T] [--label K:V]... [--wait 120s]
  forgewatch validate [PATH | -c PATH]
  forgewatch init    [PATH] [--force]

The config comes from -c PATH, else $FORGEWATCH_CONFIG, else ./forgewatch.yaml;
with none of them, serve and check use an embedded default (a self-check).
exit codes: 0 all checks pass, 1 a check fails, 2 a config or usage error`;

const DEFAULT_FILE = 'forgewatch.yaml';
const EMBEDDED = '(embedded default)';

class UsageError extends Error {}

function configPath(explicit: string | undefined): string | undefined {
  if (explicit) return explicit;
  if (process.env.FORGEWATCH_CONFIG) return process.env.FORGEWATCH_CONFIG;
  return existsSync(DEFAULT_FILE) ? DEFAULT_FILE : undefined;
}

function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text);
  if (!m) throw new UsageError(`--listen expects HOST:PORT, got ${JSON.stringify(text)}`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port: Number(m[3]) };
}

function loader(file: string | undefined, listen?: { host: string; port: number }): () => Config {
  if (file) return () => loadConfigFile(file);
  return () => parseConfig(defaultConfigText(listen ?? { host: '127.0.0.1', port: 9464 }), EMBEDDED, process.env, process.cwd());
}

/** The long-running service parses files off its main heap, so a large config costs no lasting memory. */
function serviceLoader(file: string | undefined, listen?: { host: string; port: number }): () => Config | Promise<Config> {
  return file ? () => loadConfigFileIsolated(file) : loader(undefined, listen);
}

async function main(argv: string[]): Promise<number> {
  const command = argv[0] && !argv[0].startsWith('-') ? argv[0] : 'serve';
  const rest = command === argv[0] ? argv.slice(1) : argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      listen: { type: 'string' },
      json: { type: 'boolean' },
      name: { type: 'string', multiple: true },
      type: { type: 'string' },
      label: { type: 'string', multiple: true },
      wait: { type: 'string' },
      force: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'V' },
    },
  });
  if (values.help || command === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (values.version || command === 'version') {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    console.log(pkg.version);
    return 0;
  }
  switch (command) {
    case 'serve':
      return serve(values.config, values.listen);
    case 'check':
      return check(values.config, { json: values.json ?? false, names: values.name ?? [], ...(values.type ? { type: values.type } : {}), labels: values.label ?? [], ...(values.wait ? { wait: values.wait } : {}) });
    case 'validate': {
      const file = positionals[0] ?? configPath(values.config);
      if (!file) throw new UsageError(`no config to validate: pass a path, -c PATH, set FORGEWATCH_CONFIG, or create ./${DEFAULT_FILE} (forgewatch init)`);
      const config = loadConfigFile(file);
      console.log(`${file}: ok (${config.checks.length} checks)`);
      return 0;
    }
    case 'init': {
      const file = positionals[0] ?? DEFAULT_FILE;
      if (existsSync(file) && !values.force) throw new UsageError(`${file} exists; use --force to overwrite it`);
      writeFileSync(file, INIT_TEMPLATE);
      console.log(`wrote ${path.resolve(file)}; edit it, then: forgewatch validate ${file}`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  }
}

async function serve(explicit: string | undefined, listenFlag: string | undefined): Promise<number> {
  const logger = createLogger();
  const listen = listenFlag ? parseListen(listenFlag) : undefined;
  const file = configPath(explicit);
  const load = serviceLoader(file, listen);
  const config = await load();
  if (!file) logger.info({ event: 'default_config' }, `no config file (-c, FORGEWATCH_CONFIG or ./${DEFAULT_FILE}): running the embedded default; forgewatch init writes a starting point`);
  const service = await startService({ config, loadConfig: load, logger, ...(listen ? { listen } : {}) });
  process.on('SIGHUP', () => void service.reload());
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  logger.info({ event: 'stopping' }, 'shutting down');
  await service.close();
  return 0;
}

interface CheckOptions {
  json: boolean;
  names: string[];
  type?: string;
  labels: string[];
  wait?: string;
}

async function check(explicit: string | undefined, opts: CheckOptions): Promise<number> {
  const config = loader(configPath(explicit))();
  const { selected, unknownNames } = selectChecks(config.checks, { names: opts.names, ...(opts.type ? { type: opts.type } : {}), labels: opts.labels });
  if (unknownNames.length > 0) throw new UsageError(`no configured check named ${unknownNames.join(', ')}`);
  if (selected.length === 0) throw new UsageError('no check matches the filters');
  const waitMs = opts.wait === undefined ? 0 : parseDuration(opts.wait);
  if (waitMs === undefined) throw new UsageError(`--wait expects a duration such as 120s, got ${JSON.stringify(opts.wait)}`);
  // A one-shot run keeps no state: it must not disturb a running service's state_dir.
  const monitor = new Monitor({ ...config, checks: selected });
  const deadline = Date.now() + waitMs;
  let report: CheckReport;
  for (let attempt = 1; ; attempt++) {
    report = buildReport(await Promise.all(selected.map((c) => monitor.run(c.name))));
    const left = deadline - Date.now();
    if (report.ok || left <= 0) break;
    const pause = Math.min(2000, left);
    const failing = report.checks.filter((c) => c.status === 'fail').map((c) => `${c.name} (${c.reason})`);
    process.stderr.write(`attempt ${attempt}: failing: ${failing.join(', ')}; retrying in ${Math.ceil(pause / 1000)}s, ${Math.ceil(left / 1000)}s left\n`);
    await new Promise((r) => setTimeout(r, pause));
  }
  await monitor.close();
  console.log(opts.json ? JSON.stringify(report, null, 2) : formatTable(report));
  return report.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) console.error(err.message);
    else if (err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) console.error(`forgewatch: ${(err as Error).message}`);
    else {
      console.error(`forgewatch: ${(err as Error).stack ?? String(err)}`);
      process.exit(70);
    }
    process.exit(2);
  },
);
