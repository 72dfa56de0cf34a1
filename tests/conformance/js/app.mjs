// cargo-inngest conformance app: HTTP server.
//
// The project's own implementation of the conformance contract in
// tests/conformance: serves the functions from ./functions.mjs with the
// official SDK's Node adapter (`inngest/node`) at
// http://127.0.0.1:$APP_PORT/api/inngest and answers 404 on any other path.
//
// Environment:
//   APP_PORT     port to bind on 127.0.0.1 (default 3939; 0 = pick a free one)
//   INNGEST_DEV  e.g. http://127.0.0.1:9100, the dev server / API the SDK
//                talks to (read by the SDK itself, like every other
//                INNGEST_* variable: INNGEST_SIGNING_KEY, INNGEST_BASE_URL, ...)
//
// Once listening it prints exactly one line to stdout:
//   listening on 127.0.0.1:<port>
// with the port actually bound, so callers using APP_PORT=0 can parse it.
import { createServer } from "node:http";
import { serve } from "inngest/node";
import { inngest, functions } from "./functions.mjs";

const HOST = "127.0.0.1";
const SERVE_PATH = "/api/inngest";

const requestedPort = process.env.APP_PORT === undefined || process.env.APP_PORT === ""
  ? 3939
  : Number(process.env.APP_PORT);
if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
  console.error(`invalid APP_PORT: ${JSON.stringify(process.env.APP_PORT)}`);
  process.exit(2);
}

const inngestHandler = serve({ client: inngest, functions });

// Only the serve path (with or without a query string) goes to the SDK.
const isServePath = (url = "") => {
  const path = url.split("?", 1)[0];
  return path === SERVE_PATH || path === `${SERVE_PATH}/`;
};

const server = createServer((req, res) => {
  if (isServePath(req.url)) {
    return inngestHandler(req, res);
  }
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("not found\n");
});

server.on("error", (err) => {
  console.error(`conformance app failed to listen: ${err.message}`);
  process.exit(1);
});

server.listen(requestedPort, HOST, () => {
  const { port } = server.address();
  console.log(`listening on ${HOST}:${port}`);
});
