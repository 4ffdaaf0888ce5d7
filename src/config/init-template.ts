/** The annotated forgewatch.yaml that `forgewatch init` writes, modelled on a typical deployment:
 * a backend container on :8000, a frontend on :3001, nginx terminating TLS for the public hosts. */
/** Where alerts go, commented out: channels are the reader's to choose (also ends discover's output). */
export const ALERTS_EXAMPLE = `# Alerts when a check regresses and when it recovers (see docs/alerts.md); uncomment to use:
# alerts:
#   channels:
#     - name: ops-mail
#       type: email
#       smtp:                     # one key per line: inside { } a \${VAR} must be quoted, "\${VAR}"
#         host: smtp.example.com
#         port: 587
#         secure: starttls
#         user: alerts
#         password: \${SMTP_PASSWORD}
#       from: forgewatch@example.com
#       to: [ops@example.com]
#     - name: ops-slack
#       type: slack
#       webhook_url: \${SLACK_WEBHOOK_URL}
`;

export const INIT_TEMPLATE = `# forgewatch.yaml — what to watch, and how often.
# Durations: 250ms 30s 5m 1h 7d. Sizes: 512KiB 1MiB.
# \${VAR} reads an environment variable (a missing one is an error; \${VAR:-default} gives a default,
# \${VAR:-} an empty value, which leaves an optional key unset); \${file:/run/secrets/x} reads a file.
# Check it with:  forgewatch validate forgewatch.yaml   Run it once:  forgewatch check

server:
  listen: 127.0.0.1:9464          # serves /metrics, /check, /api/status, /healthz
  token: \${FORGEWATCH_TOKEN:-}    # when not empty, /check and /api/* need "Authorization: Bearer <token>"

state_dir: ./.forgewatch          # check state survives restarts here

defaults:
  interval: 30s
  timeout: 10s
  failure_threshold: 2            # consecutive bad results before a check counts as failing
  success_threshold: 1            # consecutive good results before it counts as recovered

max_concurrency: 64

checks:
  # --- Local health: the containers themselves, bypassing nginx ---
  - name: backend-local
    type: http
    url: http://127.0.0.1:8000/health
    interval: 15s
    depends_on: [backend-container]
    expect:
      status: [200]
    labels: { team: web, severity: page }

  - name: frontend-local
    type: http
    url: http://127.0.0.1:3001/
    expect:
      status: [200]

  # --- Public: through DNS, nginx and TLS, as users see it ---
  - name: api-public
    type: http
    url: https://api.forgetrace.pro/health
    expect:
      status: [200]
    depends_on: [backend-local, cert-forgetrace]   # a 502 or a bad certificate here is explained by those
    labels: { severity: page }

  - name: www-public
    type: http
    url: https://www.forgetrace.pro/
    expect:
      status: ["200-299"]
    depends_on: [frontend-local]

  # --- nginx redirects plain HTTP to HTTPS for every host ---
  - name: apex-redirects-to-https
    type: http
    url: http://forgetrace.pro/
    follow_redirects: false         # the 301 itself is the result
    expect:
      status: [301, 308]
      header: { location: '^https://forgetrace\\.pro/' }

  # --- The certificate nginx serves must cover every host it serves ---
  - name: cert-forgetrace
    type: tls
    host: forgetrace.pro
    port: 443
    names: [forgetrace.pro, www.forgetrace.pro, api.forgetrace.pro]
    warn_before: 21d                # certbot renews at 30 days left: 21d means renewal is failing
    fail_before: 7d

  # --- Containers: up, not restarting; the log line that explains a crash loop ---
  - name: backend-container
    type: container
    container: forgetrace-backend   # uses /var/run/docker.sock, or DOCKER_HOST=unix:///...
    max_restarts: 0
    window: 10m

  # --- :8000 must be held by the backend container, not by a leftover systemd unit ---
  - name: backend-port
    type: port
    host: 127.0.0.1
    port: 8000
    owner: { container: forgetrace-backend }
    bind: loopback

${ALERTS_EXAMPLE}`;
