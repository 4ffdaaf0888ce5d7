import { describe, expect, it } from 'vitest';
import { backoffMs } from '../src/alerts/outbox.js';
import { notificationHtml, notificationText, notificationTitle } from '../src/alerts/render.js';
import type { AlertEvent, Notification } from '../src/alerts/types.js';
import { ConfigError, parseConfig } from '../src/config/load.js';

const base = 'checks: []\nalerts:\n';

function problems(yaml: string): string {
  try {
    parseConfig(yaml, 'fw.yaml', { SMTP_PASSWORD: 'pw' });
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('config was accepted');
}

describe('alerts config', () => {
  it('applies defaults and interpolates secrets', () => {
    const config = parseConfig(
      `${base}  channels:\n    - { name: mail, type: email, smtp: { host: smtp.example.com, user: a, password: "\${SMTP_PASSWORD}" }, from: f@example.com, to: [o@example.com] }\n`,
      'fw.yaml',
      { SMTP_PASSWORD: 'pw-from-env' },
    );
    const alerts = config.alerts;
    expect(alerts?.group_wait).toBe(10_000);
    expect(alerts?.repeat_every).toBe(4 * 3_600_000);
    expect(alerts?.max_per_hour).toBe(20);
    expect(alerts?.send_resolved).toBe(true);
    expect(alerts?.retry).toEqual({ initial: 5000, max: 600_000, give_up_after: 86_400_000 });
    expect(alerts?.channels[0]).toMatchObject({ type: 'email', smtp: { secure: 'starttls', password: 'pw-from-env' } });
  });

  it('names the file, line and key of each mistake', () => {
    expect(
      problems(
        `${base}  channels:\n    - { name: hook, type: webhook, url: "http://127.0.0.1/x" }\n  routes:\n    - { match: { severity: page }, channels: [hook, pager] }\n`,
      ),
    ).toBe('fw.yaml:6:53 alerts.routes[0].channels[1]: no channel named "pager" (channels: hook)');
    expect(
      problems(
        `${base}  channels:\n    - { name: m, type: email, smtp: { host: h, secure: ssl }, from: a@b.c, to: [x@y.z] }\n`,
      ),
    ).toMatch(
      /^fw\.yaml:4:\d+ alerts\.channels\[0\]\.smtp\.secure: expected "tls" or "starttls" or "none", got "ssl"$/,
    );
    expect(problems(`${base}  channels:\n    - { name: p, type: pagerduty }\n`)).toMatch(
      /^fw\.yaml:4:\d+ alerts\.channels\[0\]\.type: expected "email" or "slack" or "webhook" or "alertmanager" or "teams", got "pagerduty"$/,
    );
    const leaky = problems(
      `${base}  channels:\n    - { name: s, type: slack, webhook_url: "hooks.slack.com/services/T0/B0/tok3n" }\n    - { name: m, type: email, smtp: { host: h, password: [x9pw] }, from: a@b.c, to: [x@y.z] }\n`,
    );
    expect(leaky).toMatch(
      /alerts\.channels\[0\]\.webhook_url: expected an http:\/\/ or https:\/\/ URL \(not shown: it is a secret\)/,
    );
    expect(leaky).toMatch(/alerts\.channels\[1\]\.smtp\.password: expected a text value \(not shown: it is a secret\)/);
    expect(leaky).not.toMatch(/tok3n|x9pw/);
    expect(problems(`${base}  group_wait: soon\n`)).toMatch(/alerts\.group_wait: expected a duration such as 250ms/);
    expect(
      problems(
        `${base}  silences:\n    - { match: { check: a }, from: 2026-12-01T03:00:00Z, until: 2026-12-01T02:00:00Z }\n`,
      ),
    ).toMatch(/alerts\.silences\[0\]\.until: until must be later than from/);
    expect(
      problems(
        `${base}  channels:\n    - { name: a, type: slack, webhook_url: "http://x/1" }\n    - { name: a, type: slack, webhook_url: "http://x/2" }\n`,
      ),
    ).toMatch(/alerts\.channels\[1\]\.name: duplicate channel name "a"/);
  });

  it('bounds the retry schedule: a wait of at most 10m, initial not above max; give_up_after may be shorter than a day', () => {
    expect(problems(`${base}  retry: { max: 11m }\n`)).toMatch(
      /^fw\.yaml:\d+:\d+ alerts\.retry\.max: must be at most 10m/,
    );
    expect(problems(`${base}  retry: { initial: 5m, max: 1m }\n`)).toMatch(
      /alerts\.retry\.initial: must not be longer than retry\.max/,
    );
    expect(parseConfig(`${base}  retry: { max: 10m, give_up_after: 1h }\n`, 'fw.yaml', {}).alerts?.retry).toEqual({
      initial: 5000,
      max: 600_000,
      give_up_after: 3_600_000,
    });
  });
});

describe('Teams channel config', () => {
  it('reads a Teams channel with its secret webhook URL, and names the missing or broken field without showing it', () => {
    const url = 'https://prod-01.westeurope.logic.azure.com/workflows/0a1b/triggers/manual/paths/invoke?sig=s3cr3tSig';
    const config = parseConfig(
      `${base}  channels:\n    - { name: ops-teams, type: teams, webhook_url: "\${TEAMS_WEBHOOK_URL}", timeout: 10s }\n`,
      'fw.yaml',
      { TEAMS_WEBHOOK_URL: url },
    );
    expect(config.alerts?.channels[0]).toEqual({ name: 'ops-teams', type: 'teams', webhook_url: url, timeout: 10_000 });
    expect(
      parseConfig(`${base}  channels:\n    - { name: t, type: teams, webhook_url: "${url}" }\n`, 'fw.yaml', {}).alerts
        ?.channels[0]?.timeout,
    ).toBe(30_000);

    expect(problems(`${base}  channels:\n    - { name: ops-teams, type: teams }\n`)).toMatch(
      /^fw\.yaml:4:\d+ alerts\.channels\[0\]\.webhook_url: required key is missing$/,
    );
    expect(
      problems(
        `${base}  channels:\n    - name: ops-teams\n      type: teams\n      webhook_url: \${TEAMS_WEBHOOK_URL:-}\n`,
      ),
    ).toMatch(/alerts\.channels\[0\]\.webhook_url: required key is missing \(\$\{TEAMS_WEBHOOK_URL:-\} is empty\)$/);
    const broken = problems(
      `${base}  channels:\n    - { name: ops-teams, type: teams, webhook_url: "logic.azure.com/invoke?sig=s3cr3tSig", hook: x }\n`,
    );
    expect(broken).toMatch(
      /alerts\.channels\[0\]\.webhook_url: expected an http:\/\/ or https:\/\/ URL \(not shown: it is a secret\)/,
    );
    expect(broken).toMatch(/alerts\.channels\[0\]\.hook: /);
    expect(broken).not.toContain('s3cr3tSig');
  });
});

const event = (over: Partial<AlertEvent>): AlertEvent => ({
  kind: 'firing',
  check: 'c',
  type: 'http',
  labels: {},
  status: 'fail',
  previous: 'ok',
  reason: 'r',
  since: '2026-11-25T06:00:00.000Z',
  at: '2026-11-25T06:12:00.000Z',
  details: {},
  dependents: [],
  ...over,
});
const note = (events: AlertEvent[]): Notification => ({
  id: 'k',
  channel: 'x',
  created_at: '2026-11-25T06:12:00.000Z',
  events,
  public_url: 'https://status.example.com/',
});

describe('alert message content', () => {
  it('spells out certificate days left, SANs and names not covered', () => {
    const tls = {
      days_left: 5.4,
      names_covered: ['example.com'],
      names_missing: ['www.example.com'],
      sans: ['example.com', 'api.example.com'],
      problems: ['name_not_covered', 'renewal_overdue'],
      protocol: 'TLSv1.3',
    };
    const n = note([
      event({ check: 'site-tls', type: 'tls', reason: 'certificate does not cover www.example.com', details: tls }),
    ]);
    const text = notificationText(n);
    expect(notificationTitle(n)).toBe('[FAIL] site-tls: certificate does not cover www.example.com');
    expect(text).toContain('certificate: 5 days left');
    expect(text).toContain('SANs: example.com, api.example.com');
    expect(text).toContain('not covered: www.example.com');
    expect(text).toContain('TLS problems: name_not_covered, renewal_overdue');
    expect(text).toContain('Status: fail since 2026-11-25T06:00:00.000Z (12m ago, was ok)');
    expect(notificationHtml(n)).toContain('not covered: www.example.com');
  });

  it('spells out container restarts, exit code, OOM and the last log lines', () => {
    const logs = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n');
    const details = {
      containers: [{ name: 'backend', state: 'restarting', restart_count: 7, exit_code: 137, oom_killed: true, logs }],
    };
    const text = notificationText(
      note([event({ check: 'backend-container', type: 'container', reason: 'backend is restarting', details })]),
    );
    expect(text).toContain('backend: restart count 7, exit code 137, OOM killed');
    expect(text).toContain('  | line 30');
    expect(text).toContain('  | line 21');
    expect(text).not.toContain('  | line 20\n');
  });

  it('titles recoveries with how long the check failed, and escapes HTML', () => {
    const n = note([
      event({
        kind: 'resolved',
        status: 'ok',
        check: 'api-public',
        reason: 'status 200 in 3ms',
        duration_ms: 12 * 60_000,
      }),
    ]);
    expect(notificationTitle(n)).toBe('[RECOVERED] api-public after 12m');
    expect(notificationHtml(note([event({ reason: '<script>x</script>' })]))).toContain(
      '&lt;script&gt;x&lt;/script&gt;',
    );
  });
});

describe('delivery retry schedule', () => {
  it('doubles from initial with jitter in the upper half of each step, capped at max', () => {
    const policy = { initial: 5000, max: 600_000 };
    expect([1, 2, 3].map((n) => backoffMs(n, policy, () => 0))).toEqual([2500, 5000, 10_000]);
    expect([1, 2, 3].map((n) => backoffMs(n, policy, () => 1))).toEqual([5000, 10_000, 20_000]);
    expect(backoffMs(40, policy, () => 1)).toBe(600_000);
    expect(backoffMs(40, policy, () => 0)).toBe(300_000);
  });
});
