# One image for the three services; the command picks which one runs, e.g.
#   docker run shardshop node dist/stock/main.js
# and, as a stage of its own (docker build --target watchdog), the compose deployment's watchdog: Node
# and its one script, without the shop's npm packages, since it holds the Docker engine's socket.
# Build behind a registry mirror with --build-arg NPM_REGISTRY=http://mirror:4873/

FROM node:22-bookworm-slim AS build
ARG NPM_REGISTRY=https://registry.npmjs.org/
WORKDIR /app
COPY package.json package-lock.json ./
COPY orchestrator/package.json ./orchestrator/
RUN npm ci --registry="$NPM_REGISTRY" --no-audit --no-fund
COPY tsconfig.json ./
COPY common ./common
COPY orchestrator ./orchestrator
COPY order ./order
COPY stock ./stock
COPY payment ./payment
COPY local ./local
COPY deploy ./deploy
COPY tools ./tools
COPY test ./test
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# The compose deployment's watchdog (docker build --target watchdog): Node and one file, an ES
# module (hence .mjs, with no package.json beside it). The engine's socket is root's; compose runs
# it as root with no capabilities.
FROM node:22-bookworm-slim AS watchdog
ENV NODE_ENV=production
WORKDIR /watchdog
COPY --from=build /app/dist/deploy/watchdog.js ./watchdog.mjs
CMD ["node", "watchdog.mjs"]

# The services (the default target, last).
FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-old-space-size=96 --max-semi-space-size=16" \
    PORT=8080
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/common ./dist/common
# The engine package: node_modules/@shardshop/orchestrator links here.
COPY --from=build /app/orchestrator/package.json ./orchestrator/
COPY --from=build /app/orchestrator/dist ./orchestrator/dist
COPY --from=build /app/dist/order ./dist/order
COPY --from=build /app/dist/stock ./dist/stock
COPY --from=build /app/dist/payment ./dist/payment
# The operator's command for open and parked checkouts: docker compose exec order-1 node dist/tools/tx.js list --url http://127.0.0.1:8080
COPY --from=build /app/dist/tools/tx.js /app/dist/tools/cli.js ./dist/tools/
USER node
EXPOSE 8080
# node is PID 1 and handles SIGTERM itself: it stops accepting, drains, then closes Redis.
CMD ["node", "dist/order/main.js"]
