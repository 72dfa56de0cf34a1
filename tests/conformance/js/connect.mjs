// cargo-inngest conformance app: the same functions (./functions.mjs) served over connect by the
// official SDK's worker (`inngest/connect`), which dials the gateway the start API names
// (`INNGEST_DEV`'s server). Prints `connected` once the worker is active, and closes
// gracefully (the SDK sends WORKER_PAUSE and finishes in-flight work) on SIGTERM or SIGINT.
//
// Environment: INNGEST_DEV (the dev server), INNGEST_CONNECT_INSTANCE_ID (optional).
import { connect } from "inngest/connect";
import { inngest, functions } from "./functions.mjs";

const connection = await connect({
  apps: [{ client: inngest, functions }],
  instanceId: process.env.INNGEST_CONNECT_INSTANCE_ID || "js-worker",
});
console.log("connected");

let closing = false;
const stop = async () => {
  if (closing) return;
  closing = true;
  await connection.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
