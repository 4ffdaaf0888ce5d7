# forgewatch container image.
#   docker build -t forgewatch .
#   docker run -d --name forgewatch -p 127.0.0.1:9464:9464 \
#     -v ./forgewatch.yaml:/etc/forgewatch/forgewatch.yaml:ro -v forgewatch-state:/var/lib/forgewatch forgewatch
# The config must set  state_dir: /var/lib/forgewatch  so check state survives restarts (see docs/deploy.md).

# Node 24 is an LTS line (supported until April 2028); build with --build-arg NODE_VERSION=26 for the newer LTS.
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
ENV NODE_ENV=production \
    FORGEWATCH_CONFIG=/etc/forgewatch/forgewatch.yaml
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist/src ./dist/src
# uid 1000 is the image's unprivileged "node" user; the state directory must be its own before the volume is created.
RUN install -d -m 0755 /etc/forgewatch && install -d -m 0700 -o 1000 -g 1000 /var/lib/forgewatch
USER node
WORKDIR /var/lib/forgewatch
VOLUME ["/var/lib/forgewatch"]
EXPOSE 9464
# The slim image has no curl: Node's own fetch asks /healthz, which fails when the scheduler stalls.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/src/cli.js"]
# 0.0.0.0 inside the container; publish the port on 127.0.0.1 of the host unless Prometheus scrapes from elsewhere.
CMD ["serve", "--listen", "0.0.0.0:9464"]
