# PromptLab: one image for the API and the worker (the command picks which).
# The console is built in its own stage (Vite is a devDependency); the image keeps only dist/console.
FROM node:20-bookworm-slim AS console
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY console ./console
COPY src/console ./src/console
COPY src/templates/render.ts ./src/templates/render.ts
RUN node --import tsx src/console/build.ts

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json drizzle.config.ts ./
COPY src ./src
COPY workers ./workers
COPY migrations ./migrations
COPY --from=console /app/dist/console ./dist/console
USER node
EXPOSE 3000
# node itself is PID 1 (no npm wrapper), so SIGTERM reaches close-with-grace and drains.
CMD ["node", "--import", "tsx", "src/server.ts"]
