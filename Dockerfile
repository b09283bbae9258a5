# The cdnkit image: the CLI, which runs the bridges, the simulator and the stack's set-up steps.
# Built by compose/compose.yaml (`docker compose build`); three named stages:
#   build   - dev dependencies and the TypeScript compiler: compiles src/, generators/, grafana/ into dist/
#   deps    - production dependencies only, without running package scripts
#   runtime - node on Debian slim, dist/ + templates/ + schema/ + production node_modules, as the unprivileged user "node"
# Debian (glibc), not Alpine (musl): the bridges run with MALLOC_ARENA_MAX=2, a glibc setting.
ARG NODE_IMAGE=node:22.21.1-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would compile before the sources are copied.
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY generators ./generators
COPY grafana ./grafana
RUN npx tsc -p tsconfig.json

FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY templates ./templates
COPY schema ./schema
USER node
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["--help"]
