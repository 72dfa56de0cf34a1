// cargo-inngest conformance app: function definitions.
//
// This is the project's own implementation of the "function contract" that
// the recordings in tests/conformance/recordings were made against. It uses
// the official Inngest JS SDK (inngest@4.24.0, pinned in package.json) so the
// test suite can run the real SDK on one side of the wire and our Rust code
// on the other.
//
// Everything observable on the wire is part of the contract and must not
// drift from the recordings: the app id, every function id and its order in
// `functions`, triggers, retry counts, step ids (they are hashed into the
// op ids), step outputs, return values and error messages. Changing any of
// them means re-recording the corpus.
import { Inngest, NonRetriableError, RetryAfterError } from "inngest";

/** The client; its id is the prefix of every function id (`probe-app-<fn>`). */
export const inngest = new Inngest({ id: "probe-app" });

// Shorthand: every function here has exactly one trigger.
const onEvent = (name) => [{ event: name }];
const onCron = (schedule) => [{ cron: schedule }];

// --- step.run + step.sleep, with an onFailure handler -----------------------
// Registered as two functions: `probe-app-welcome-user` and the generated
// `probe-app-welcome-user-failure` (triggered by inngest/function.failed).
export const welcomeUser = inngest.createFunction(
  {
    id: "welcome-user",
    triggers: onEvent("user/user.created"),
    onFailure: async ({ event, error }) => ({
      handled: true,
      // event.data.event is the event that started the failed run
      original: event.data.event.name,
      message: error.message,
    }),
  },
  async ({ event, step }) => {
    const recipient = event.data.email;
    const welcome = await step.run("send-welcome-email", async () => ({
      sent: true,
      to: recipient,
    }));
    await step.sleep("wait-3-days", "3d");
    await step.run("send-followup-email", async () => ({
      sent: true,
      to: recipient,
      prev: welcome.sent,
    }));
    return { emailsSent: 2 };
  },
);

// --- cron trigger -----------------------------------------------------------
const dailyDigest = inngest.createFunction(
  { id: "daily-digest", triggers: onCron("0 9 * * *") },
  async ({ event, step }) => {
    // a synchronous step callback on purpose
    const users = await step.run("count-users", () => 42);
    return { digestFor: users, trigger: event.name };
  },
);

// --- step.waitForEvent (paid or timed out) ----------------------------------
const waitForPayment = inngest.createFunction(
  { id: "wait-for-payment", triggers: onEvent("billing/checkout.started") },
  async ({ step }) => {
    const payment = await step.waitForEvent("wait-for-payment-event", {
      event: "billing/payment.succeeded",
      match: "data.orderId",
      timeout: "1h",
    });
    // null when the hour passes without a matching event
    return !payment
      ? { status: "timed-out" }
      : { status: "paid", amount: payment.data.amount };
  },
);

// --- step.invoke: parent calls child ----------------------------------------
const childFn = inngest.createFunction(
  { id: "child-fn", triggers: onEvent("app/child.requested") },
  async ({ event }) => ({ doubled: (event.data.n ?? 0) * 2 }),
);

const parentFn = inngest.createFunction(
  { id: "parent-fn", triggers: onEvent("app/parent.requested") },
  async ({ event, step }) => {
    const childSaid = await step.invoke("call-child", {
      function: childFn,
      data: { n: event.data.n },
      timeout: "10m",
    });
    return { childSaid };
  },
);

// --- NonRetriableError: final on the first attempt despite retries: 2 -------
const nonRetriable = inngest.createFunction(
  { id: "non-retriable", triggers: onEvent("app/bad.input"), retries: 2 },
  async ({ event }) => {
    throw new NonRetriableError(`bad input: ${JSON.stringify(event.data)}`);
  },
);

// --- two steps started together (planned, then run one by one) -------------
const parallelSteps = inngest.createFunction(
  { id: "parallel-steps", triggers: onEvent("app/parallel") },
  async ({ step }) => {
    // neither step is awaited before the other starts
    const [a, b] = await Promise.all([
      step.run("step-a", () => "A"),
      step.run("step-b", () => "B"),
    ]);
    return { a, b };
  },
);

// --- the same step id used three times (ids same, same:1, same:2) ----------
const repeatedIds = inngest.createFunction(
  { id: "repeated-ids", triggers: onEvent("app/repeat") },
  async ({ step }) => {
    const seen = [];
    for (let round = 0; round < 3; round += 1) {
      seen.push(await step.run("same", () => round));
    }
    return seen;
  },
);

// --- a step that always throws (StepError, then StepFailed) -----------------
const failingStep = inngest.createFunction(
  { id: "failing-step", triggers: onEvent("app/fail"), retries: 1 },
  async ({ step }) => {
    const never = await step.run("flaky", () => {
      throw new Error("step exploded");
    });
    return never;
  },
);

// --- step.sendEvent (the SDK posts the event itself) ------------------------
const sendEvent = inngest.createFunction(
  { id: "send-event", triggers: onEvent("app/send") },
  async ({ step }) => {
    // resolves to { ids: [...] }, the ids the event API handed back
    const sent = await step.sendEvent("fan-out", {
      name: "app/child.requested",
      data: { n: 1 },
    });
    return sent;
  },
);

// --- function-level errors ------------------------------------------------
// A plain throw is retriable: fails on attempt 0, succeeds from attempt 1.
const plainThrow = inngest.createFunction(
  { id: "plain-throw", triggers: onEvent("app/plain"), retries: 2 },
  async ({ attempt }) => {
    if (attempt === 0) {
      throw new Error(`transient failure on attempt ${attempt}`);
    }
    return { recoveredOnAttempt: attempt };
  },
);

// RetryAfterError: retriable with a retry-after hint (30 s), final on the
// last attempt.
const retryAfter = inngest.createFunction(
  { id: "retry-after", triggers: onEvent("app/retry-after"), retries: 1 },
  async () => {
    throw new RetryAfterError("rate limited", "30s");
  },
);

/** Served in this order; the order shows up in sync bodies. */
export const functions = [
  welcomeUser,
  dailyDigest,
  waitForPayment,
  childFn,
  parentFn,
  nonRetriable,
  parallelSteps,
  repeatedIds,
  failingStep,
  sendEvent,
  plainThrow,
  retryAfter,
];
