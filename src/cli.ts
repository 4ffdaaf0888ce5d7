#!/usr/bin/env -S node --max-semi-space-size=2 --single-threaded-gc
/** forgewatch's command line: serve | check | validate | discover | init | cluster. Exit codes: 0 ok, 1 a check fails, 2 config or usage error. */
// The flags above cap V8's young generation at 2 MiB per semi-space (16 by default: probe runs leave
// short-lived garbage at a steady rate, and a default young generation grows to about 48 MiB of resident
// memory for no gain in CPU) and keep the GC on one thread (on two cores parallel GC costs more CPU than it
// saves, and holds more heap pages): docs/performance.md. `npm start` and the Dockerfile pass the same flags.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Monitor } from './checks/monitor.js';
import { ClusterStatusError, fetchClusterView, formatClusterTable } from './cluster/status-table.js';
import { buildReport, formatTable, selectChecks, type CheckReport } from './checks/report.js';
import { DISCOVER_USAGE, DiscoverUsageError, runDiscover } from './discover/command.js';
import { INIT_TEMPLATE } from './config/init-template.js';
import { ConfigError, loadConfigFile, type Config } from './config/load.js';
import { parseDuration } from './config/units.js';
import { createLogger, isLogFormat, LOG_FORMATS, type LogFormat } from './log.js';
import { probeKinds } from './probes/index.js';
import { DEFAULT_LISTEN, serve } from './serve-command.js';
import { LOOPBACK_HOST, parseListenAddress, type ListenAddress } from './util/listen.js';

const COMMAND_USAGE = {
  serve: `forgewatch [serve] [-c PATH] [--listen HOST:PORT] [--log-format json|text] [--nginx …] [--letsencrypt …] [--docker …]

Runs every check on its schedule and serves /, /metrics, /check, /api/status and /healthz.
  -c, --config PATH   the config (else $FORGEWATCH_CONFIG, else ./forgewatch.yaml, else what discovery
                      finds on this machine: see forgewatch discover)
  --listen HOST:PORT  overrides server.listen; HOST:0 binds a free port
  --log-format F      json (default: one JSON line per event) or text (one readable line, for a terminal);
                      also $FORGEWATCH_LOG_FORMAT. The level comes from $FORGEWATCH_LOG_LEVEL (info)
  --nginx, --letsencrypt, --docker   without a config file, the sources discovery reads (as forgewatch discover)
SIGHUP or POST /-/reload reloads the config (without a file: discovers again).
Exit 2: a config, state_dir or listen address it cannot use, an etcd it cannot reach
(with cluster:), or a node name another live node holds.`,
  check: `forgewatch check [-c PATH] [--json] [--wide] [--name N]... [--type T] [--label K:V]... [--wait 120s]

Runs the selected checks once and prints a table (or, with --json, the JSON of GET /check).
  -c, --config PATH   the config (else $FORGEWATCH_CONFIG, else ./forgewatch.yaml; none is exit 2)
  --name N            only this check (repeatable)
  --type T            only checks of this type
  --label K:V         only checks with this label (repeatable; a bare K: the label is set)
  --wait 120s         run again every 2 s until all pass or the time is up
  --wide              the full reason and facts; by default the table fits 100 columns
Exit 0 all pass, 1 a check fails, 2 a config or usage error (a config with no checks, a filter that
selects none).`,
  validate: `forgewatch validate [PATH | -c PATH]

Reads the config and reports every mistake as file:line:col key path: message.
Exit 0 valid, 2 a mistake or no checks in the file.`,
  cluster: `forgewatch cluster status [--url URL] [--json]

Shows the fleet as the node at URL sees it (default http://127.0.0.1:9464): members, their locations,
addresses, checks owned, last lease renewal and whether each runs the leader's config, the leader and the
coordination state (GET /api/cluster).
The token comes from $FORGEWATCH_TOKEN. Exit 2: the node cannot be read or runs alone.`,
  discover: DISCOVER_USAGE,
  init: `forgewatch init [PATH] [--force]

Writes an annotated config to PATH (default ./forgewatch.yaml); --force overwrites an existing file.`,
} as const;

type Command = keyof typeof COMMAND_USAGE;

const isCommand = (name: string): name is Command => Object.hasOwn(COMMAND_USAGE, name);

const USAGE = `forgewatch — health, TLS, container and port monitoring

usage:
  forgewatch [serve] [-c PATH] [--listen HOST:PORT] [--log-format json|text]
  forgewatch check   [-c PATH] [--json] [--wide] [--name N]... [--type T] [--label K:V]... [--wait 120s]
  forgewatch validate [PATH | -c PATH]
  forgewatch discover [--nginx auto|off|PATH] [--letsencrypt DIR|off] [--docker SOCKET|off] [--write PATH] [--json]
  forgewatch init    [PATH] [--force]
  forgewatch cluster status [--url URL] [--json]
  forgewatch COMMAND --help   that command's options

The config comes from -c PATH, else $FORGEWATCH_CONFIG, else ./forgewatch.yaml;
with none of them, serve watches what discovery finds here (forgewatch discover shows it)
and check stops with exit 2 (a pipeline without its config must not pass).
exit codes: 0 all checks pass, 1 a check fails, 2 a config or usage error
(serve: also a state_dir or listen address it cannot use)`;

const DEFAULT_FILE = 'forgewatch.yaml';
/** The check table's width without --wide: a terminal's and a CI log's usual 100 columns. */
const TABLE_WIDTH = 100;
const DEFAULT_URL = `http://${LOOPBACK_HOST}:${DEFAULT_LISTEN.port}`;

class UsageError extends Error {}

function configPath(explicit: string | undefined): string | undefined {
  if (explicit) return explicit;
  if (process.env.FORGEWATCH_CONFIG) return process.env.FORGEWATCH_CONFIG;
  return existsSync(DEFAULT_FILE) ? DEFAULT_FILE : undefined;
}

function parseListenFlag(text: string): ListenAddress {
  const parsed = parseListenAddress(text);
  if (!parsed.ok) throw new UsageError(`--listen: ${parsed.problem}`);
  return parsed.address;
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
      type: { type: 'string', multiple: true },
      label: { type: 'string', multiple: true },
      wait: { type: 'string' },
      wide: { type: 'boolean' },
      'log-format': { type: 'string' },
      force: { type: 'boolean' },
      url: { type: 'string' },
      nginx: { type: 'string' },
      letsencrypt: { type: 'string' },
      docker: { type: 'string' },
      write: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'V' },
    },
  });
  if (values.help || command === 'help') {
    // `forgewatch help check` as well as `forgewatch check --help`.
    const topic = command === 'help' ? positionals[0] : command;
    console.log(
      topic !== undefined && isCommand(topic) && (command !== 'serve' || argv[0] === 'serve')
        ? COMMAND_USAGE[topic]
        : USAGE,
    );
    return 0;
  }
  if (values.version || command === 'version') {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    console.log(pkg.version);
    return 0;
  }
  switch (command) {
    case 'serve':
      return serve({
        file: configPath(values.config),
        ...(values.listen ? { listen: parseListenFlag(values.listen) } : {}),
        logger: createLogger(undefined, logFormat(values['log-format'])),
        ...(values.nginx !== undefined ? { nginx: values.nginx } : {}),
        ...(values.letsencrypt !== undefined ? { letsencrypt: values.letsencrypt } : {}),
        ...(values.docker !== undefined ? { docker: values.docker } : {}),
        defaultFile: DEFAULT_FILE,
      });
    case 'check':
      if ((values.type?.length ?? 0) > 1) throw new UsageError('--type takes one check type');
      return check(values.config, {
        json: values.json ?? false,
        wide: values.wide ?? false,
        names: values.name ?? [],
        ...(values.type?.[0] ? { type: values.type[0] } : {}),
        labels: values.label ?? [],
        ...(values.wait ? { wait: values.wait } : {}),
      });
    case 'validate': {
      const file = positionals[0] ?? configPath(values.config);
      if (!file)
        throw new UsageError(
          `no config to validate: pass a path, -c PATH, set FORGEWATCH_CONFIG, or create ./${DEFAULT_FILE} (forgewatch init)`,
        );
      const config = loadConfigFile(file);
      requireChecks(config, file);
      console.log(`${file}: ok (${config.checks.length} checks)`);
      return 0;
    }
    case 'discover':
      return runDiscover({
        ...(values.nginx !== undefined ? { nginx: values.nginx } : {}),
        ...(values.letsencrypt !== undefined ? { letsencrypt: values.letsencrypt } : {}),
        ...(values.docker !== undefined ? { docker: values.docker } : {}),
        ...(values.write !== undefined ? { write: values.write } : {}),
        json: values.json ?? false,
        force: values.force ?? false,
      });
    case 'init': {
      const file = positionals[0] ?? DEFAULT_FILE;
      if (existsSync(file) && !values.force) throw new UsageError(`${file} exists; use --force to overwrite it`);
      writeFileSync(file, INIT_TEMPLATE);
      console.log(`wrote ${path.resolve(file)}; edit it, then: forgewatch validate ${file}`);
      return 0;
    }
    case 'cluster': {
      if (positionals[0] !== 'status') throw new UsageError(`usage: ${COMMAND_USAGE.cluster.split('\n')[0]}`);
      const view = await fetchClusterView(values.url ?? DEFAULT_URL, process.env.FORGEWATCH_TOKEN || undefined);
      console.log(values.json ? JSON.stringify(view, null, 2) : formatClusterTable(view));
      return 0;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  }
}

function logFormat(flag: string | undefined): LogFormat {
  const given = flag ?? process.env.FORGEWATCH_LOG_FORMAT ?? 'json';
  if (!isLogFormat(given))
    throw new UsageError(
      `${flag === undefined ? 'FORGEWATCH_LOG_FORMAT' : '--log-format'}: expected ${LOG_FORMATS.join(' or ')}, got ${JSON.stringify(given)}`,
    );
  return given;
}

/**
 * `check` and `validate` agree: a config without checks is a mistake (an empty file, the checks under the
 * wrong key), not a pass. `serve` still runs one, as it runs a discovered default, so alerts can be set up first.
 */
function requireChecks(config: Config, file: string): void {
  if (config.checks.length === 0)
    throw new UsageError(`no checks in ${file}: add a checks: list (forgewatch init writes an annotated example)`);
}

interface CheckOptions {
  json: boolean;
  wide: boolean;
  names: string[];
  type?: string;
  labels: string[];
  wait?: string;
}

async function check(explicit: string | undefined, opts: CheckOptions): Promise<number> {
  const file = configPath(explicit);
  // The discovered default only watches what is there now, which passes by construction: in a
  // deploy pipeline, a missing config must stop the pipeline rather than pass it.
  if (!file)
    throw new UsageError(
      `no config file to check: pass -c PATH, set FORGEWATCH_CONFIG, or create ./${DEFAULT_FILE} (forgewatch init writes one)`,
    );
  const config = loadConfigFile(file);
  requireChecks(config, file);
  const selection = selectChecks(
    config.checks,
    { names: opts.names, ...(opts.type ? { type: opts.type } : {}), labels: opts.labels },
    Object.keys(probeKinds),
  );
  if (selection.error) throw new UsageError(selection.error.message);
  const { selected } = selection;
  const waitMs = opts.wait === undefined ? 0 : parseDuration(opts.wait);
  if (waitMs === undefined)
    throw new UsageError(`--wait expects a duration such as 120s, got ${JSON.stringify(opts.wait)}`);
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
    process.stderr.write(
      `attempt ${attempt}: failing: ${failing.join(', ')}; retrying in ${Math.ceil(pause / 1000)}s, ${Math.ceil(left / 1000)}s left\n`,
    );
    await new Promise((r) => setTimeout(r, pause));
  }
  await monitor.close();
  console.log(opts.json ? JSON.stringify(report, null, 2) : formatTable(report, opts.wide ? undefined : TABLE_WIDTH));
  return report.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) console.error(err.message);
    else if (
      err instanceof UsageError ||
      err instanceof DiscoverUsageError ||
      err instanceof ClusterStatusError ||
      (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')
    )
      console.error(`forgewatch: ${(err as Error).message}`);
    else {
      console.error(`forgewatch: ${(err as Error).stack ?? String(err)}`);
      process.exit(70);
    }
    process.exit(2);
  },
);
