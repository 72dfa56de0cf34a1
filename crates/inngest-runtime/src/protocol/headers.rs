//! Header names of the Inngest protocol and the SDK's identity on the wire.

/// `X-Inngest-SDK`: `<sdk name>:v<version>` on every SDK response.
pub const SDK: &str = "x-inngest-sdk";
/// `X-Inngest-SDK-Handled`: `true` on every response the SDK produced.
pub const SDK_HANDLED: &str = "x-inngest-sdk-handled";
/// `X-Inngest-Framework`: the serving framework (informational).
pub const FRAMEWORK: &str = "x-inngest-framework";
/// `X-Inngest-Req-Version`: the execution version the SDK used (we speak 2).
pub const REQ_VERSION: &str = "x-inngest-req-version";
/// `X-Inngest-Signature`: `t=<unix seconds>&s=<hex hmac>`.
pub const SIGNATURE: &str = "x-inngest-signature";
/// `X-Inngest-No-Retry`: `true` when an error is final.
pub const NO_RETRY: &str = "x-inngest-no-retry";
/// `Retry-After`: seconds until the next attempt.
pub const RETRY_AFTER: &str = "retry-after";
/// `X-Inngest-Server-Kind`: `dev` or `cloud`, sent by the server.
pub const SERVER_KIND: &str = "x-inngest-server-kind";
/// `X-Inngest-Expected-Server-Kind`: the SDK's echo of [`SERVER_KIND`].
pub const EXPECTED_SERVER_KIND: &str = "x-inngest-expected-server-kind";
/// `X-Inngest-Sync-Kind`: `in_band` or `out_of_band`.
pub const SYNC_KIND: &str = "x-inngest-sync-kind";
/// `X-Inngest-Step-ID`: the targeted step, same as the `stepId` query parameter.
pub const STEP_ID: &str = "x-inngest-step-id";
/// `X-Inngest-Env`: the environment (branch) name.
pub const ENV: &str = "x-inngest-env";
/// `x-inngest-event-id-seed`: `<millis>,<base64 of 10 random bytes>` on event sends.
pub const EVENT_ID_SEED: &str = "x-inngest-event-id-seed";

/// The SDK name used in `X-Inngest-SDK` and `User-Agent`.
pub const SDK_NAME: &str = "inngest-runtime";
/// Who makes this SDK, as sync bodies report it.
pub const SDK_AUTHOR: &str = "cargo-inngest";
/// The SDK language reported in introspection and sync bodies.
pub const SDK_LANGUAGE: &str = "rust";
/// The SDK version (this crate's version).
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The execution request version this SDK speaks.
pub const EXECUTION_VERSION: i64 = 2;
/// The introspection schema version.
pub const SCHEMA_VERSION: &str = "2024-05-24";

/// `inngest-runtime:v<version>`, the value of `X-Inngest-SDK` and `User-Agent`.
pub fn sdk_header_value() -> String {
    format!("{SDK_NAME}:v{SDK_VERSION}")
}
