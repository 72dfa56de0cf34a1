// The serve-mode benchmark's JS app: the official Inngest JS SDK serving `welcome-user`
// (from the conformance contract) and `hundred-steps` (100 sequential step.run calls) on
// 127.0.0.1:$APP_PORT/api/inngest, as examples/conformance/src/bin/bench-app.rs does in Rust.
// .ci/js-sdk.sh copies it, as bench-app.mjs, beside functions.mjs where `inngest` is installed.
import http from "node:http";
import { serve } from "inngest/node";
import { inngest, welcomeUser } from "./functions.mjs";

const hundredSteps = inngest.createFunction(
  { id: "hundred-steps", triggers: [{ event: "bench/hundred.requested" }] },
  async ({ step }) => {
    let sum = 0;
    for (let i = 0; i < 100; i++) sum += await step.run(`step-${i}`, () => i);
    return { steps: 100, sum };
  },
);

const handler = serve({ client: inngest, functions: [welcomeUser, hundredSteps] });
const port = Number(process.env.APP_PORT || 3940);
const server = http.createServer((req, res) => {
  if (req.url.startsWith("/api/inngest")) return handler(req, res);
  res.writeHead(404).end();
});
// APP_PORT=0 binds a free port; the line says which.
server.listen(port, "127.0.0.1", () => console.log(`listening on 127.0.0.1:${server.address().port}`));
