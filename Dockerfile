# forgewatch container image.
#   docker build -t forgewatch .
#   docker run -d --name forgewatch -p 127.0.0.1:9464:9464 \
#     -v ./forgewatch.yaml:/etc/forgewatch/forgewatch.yaml:ro -v forgewatch-state:/var/lib/forgewatch forgewatch
# State goes to the volume /var/lib/forgewatch unless the config sets state_dir (see docs/deploy.md).

# Node 24: a maintained LTS line (security fixes until April 2028), within every dependency's supported range.
# Node 26 has been the Active LTS since October 2026; move to it (--build-arg NODE_VERSION=26) once the
# test suite has passed on it.
ARG NODE_VERSION=24

# --- build: compile TypeScript with the dev dependencies ---
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json

# --- runtime: production dependencies and the compiled code only ---
FROM node:${NODE_VERSION}-slim
# FORGEWATCH_STATE_DIR is where state goes when the config sets no state_dir: without it, state would go
# next to the config, into the root-owned /etc/forgewatch, and the service could not start.
ENV NODE_ENV=production \
    FORGEWATCH_CONFIG=/etc/forgewatch/forgewatch.yaml \
    FORGEWATCH_STATE_DIR=/var/lib/forgewatch \
    FORGEWATCH_HEALTHCHECK_URL=http://127.0.0.1:9464/healthz
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist/src ./dist/src
# uid 1000 is the image's unprivileged "node" user and owns the state directory. Group 0 may write it too:
# run as root with every capability but two dropped (the port-owner setup in docs/deploy.md), forgewatch
# has no CAP_DAC_OVERRIDE and writes there as a member of group 0. Docker copies this owner and mode
# into a new named volume.
RUN install -d -m 0755 /etc/forgewatch && install -d -m 0770 -o 1000 -g 0 /var/lib/forgewatch
# Numeric, so Kubernetes' runAsNonRoot can tell it is not root.
USER 1000:1000
WORKDIR /var/lib/forgewatch
VOLUME ["/var/lib/forgewatch"]
EXPOSE 9464
# The slim image has no curl: Node's own fetch asks /healthz, which fails when the scheduler stalls.
# Serving on another port (--listen)? Set FORGEWATCH_HEALTHCHECK_URL to match.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.FORGEWATCH_HEALTHCHECK_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "--max-semi-space-size=2", "--single-threaded-gc", "/app/dist/src/cli.js"]
# 0.0.0.0 inside the container; publish the port on 127.0.0.1 of the host unless Prometheus scrapes from elsewhere.
CMD ["serve", "--listen", "0.0.0.0:9464"]
