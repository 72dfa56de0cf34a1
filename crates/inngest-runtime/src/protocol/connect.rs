//! The connect protocol's messages (`connect.v1` in Inngest's `proto/connect/v1/connect.proto`),
//! as prost messages written out by hand: the same field numbers and wire types a `protoc`
//! build would give, with no build step and no system `protoc`. Both sides use them: the
//! runtime's worker and the dev server's gateway.
//!
//! Every WebSocket frame (binary, subprotocol [`SUBPROTOCOL`]) is one [`ConnectMessage`]: a
//! [`GatewayMessageType`] and the encoded payload message of that kind.
//!
//! ```
//! use inngest_runtime::protocol::connect::{ConnectMessage, GatewayMessageType, WorkerReplyAckData};
//! use prost::Message;
//!
//! let ack = WorkerReplyAckData { request_id: "01JREQ".into() };
//! let frame = ConnectMessage::of(GatewayMessageType::WorkerReplyAck, &ack).encode_to_vec();
//! let back = ConnectMessage::decode(frame.as_slice()).unwrap();
//! assert_eq!(back.kind(), GatewayMessageType::WorkerReplyAck);
//! assert_eq!(back.payload_as::<WorkerReplyAckData>().unwrap(), ack);
//! ```

use prost::Message;

/// The WebSocket subprotocol of connect.
pub const SUBPROTOCOL: &str = "v0.connect.inngest.com";

/// The largest frame either side of a connect socket takes (10 MiB).
pub const MAX_FRAME: usize = 10 * 1024 * 1024;

/// How much a connect socket reads at once: tungstenite's `read_buffer_size`.
///
/// tungstenite zero-fills this much of its read buffer before every read, so its default of
/// 128 KiB costs a 128 KiB `memset` per read (also per read that finds nothing) for frames
/// of a few KB. A larger frame is still read whole, in more reads.
pub const READ_BUFFER: usize = 16 * 1024;

/// What a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
#[non_exhaustive]
pub enum GatewayMessageType {
    /// Gateway → worker, first: the worker may send `WORKER_CONNECT`.
    GatewayHello = 0,
    /// Worker → gateway: who it is and what apps it serves ([`WorkerConnectRequestData`]).
    WorkerConnect = 1,
    /// Gateway → worker: the apps are synced; heartbeat and lease intervals
    /// ([`GatewayConnectionReadyData`]).
    GatewayConnectionReady = 2,
    /// Gateway → worker: run a function ([`GatewayExecutorRequestData`]).
    GatewayExecutorRequest = 3,
    /// Worker → gateway: ready for requests.
    WorkerReady = 4,
    /// Worker → gateway: a request was received ([`WorkerRequestAckData`]).
    WorkerRequestAck = 5,
    /// Worker → gateway: a request's answer ([`SdkResponse`]).
    WorkerReply = 6,
    /// Gateway → worker: the answer was received ([`WorkerReplyAckData`]).
    WorkerReplyAck = 7,
    /// Worker → gateway: send no more requests (shutting down).
    WorkerPause = 8,
    /// Worker → gateway: still here.
    WorkerHeartbeat = 9,
    /// Gateway → worker: the answer to a heartbeat.
    GatewayHeartbeat = 10,
    /// Gateway → worker: this gateway is going away; reconnect elsewhere.
    GatewayClosing = 11,
    /// Worker → gateway: extend a request's lease ([`WorkerRequestExtendLeaseData`]).
    WorkerRequestExtendLease = 12,
    /// Gateway → worker: the new lease ([`WorkerRequestExtendLeaseAckData`]).
    WorkerRequestExtendLeaseAck = 13,
    /// Gateway → worker: the apps could not be synced ([`SystemError`]).
    SyncFailed = 14,
    /// Worker → gateway: what it is doing ([`WorkerStatusData`]).
    WorkerStatus = 15,
}

const KIND_NAMES: [(GatewayMessageType, &str); 16] = [
    (GatewayMessageType::GatewayHello, "GATEWAY_HELLO"),
    (GatewayMessageType::WorkerConnect, "WORKER_CONNECT"),
    (
        GatewayMessageType::GatewayConnectionReady,
        "GATEWAY_CONNECTION_READY",
    ),
    (
        GatewayMessageType::GatewayExecutorRequest,
        "GATEWAY_EXECUTOR_REQUEST",
    ),
    (GatewayMessageType::WorkerReady, "WORKER_READY"),
    (GatewayMessageType::WorkerRequestAck, "WORKER_REQUEST_ACK"),
    (GatewayMessageType::WorkerReply, "WORKER_REPLY"),
    (GatewayMessageType::WorkerReplyAck, "WORKER_REPLY_ACK"),
    (GatewayMessageType::WorkerPause, "WORKER_PAUSE"),
    (GatewayMessageType::WorkerHeartbeat, "WORKER_HEARTBEAT"),
    (GatewayMessageType::GatewayHeartbeat, "GATEWAY_HEARTBEAT"),
    (GatewayMessageType::GatewayClosing, "GATEWAY_CLOSING"),
    (
        GatewayMessageType::WorkerRequestExtendLease,
        "WORKER_REQUEST_EXTEND_LEASE",
    ),
    (
        GatewayMessageType::WorkerRequestExtendLeaseAck,
        "WORKER_REQUEST_EXTEND_LEASE_ACK",
    ),
    (GatewayMessageType::SyncFailed, "SYNC_FAILED"),
    (GatewayMessageType::WorkerStatus, "WORKER_STATUS"),
];

impl GatewayMessageType {
    /// The name the proto file gives (`GATEWAY_HELLO`), for logs.
    ///
    /// ```
    /// use inngest_runtime::protocol::connect::GatewayMessageType;
    /// assert_eq!(GatewayMessageType::WorkerReply.name(), "WORKER_REPLY");
    /// assert_eq!(GatewayMessageType::from_name("SYNC_FAILED"), Some(GatewayMessageType::SyncFailed));
    /// ```
    pub fn name(self) -> &'static str {
        KIND_NAMES
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("UNKNOWN", |(_, n)| n)
    }

    /// The kind a proto name stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        KIND_NAMES.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
    }
}

impl SdkResponseStatus {
    /// The name the proto file gives (`DONE`).
    pub fn name(self) -> &'static str {
        match self {
            Self::NotCompleted => "NOT_COMPLETED",
            Self::Done => "DONE",
            Self::Error => "ERROR",
        }
    }
}

/// One frame.
#[derive(Clone, PartialEq, Message)]
pub struct ConnectMessage {
    /// The [`GatewayMessageType`].
    #[prost(enumeration = "GatewayMessageType", tag = "1")]
    pub kind: i32,
    /// The encoded payload message.
    #[prost(bytes = "vec", tag = "2")]
    pub payload: Vec<u8>,
}

impl ConnectMessage {
    /// A frame of `kind` carrying `payload`.
    pub fn of(kind: GatewayMessageType, payload: &impl Message) -> Self {
        Self {
            kind: kind as i32,
            payload: payload.encode_to_vec(),
        }
    }

    /// A frame of `kind` with no payload.
    pub fn bare(kind: GatewayMessageType) -> Self {
        Self {
            kind: kind as i32,
            payload: Vec::new(),
        }
    }

    /// Decodes the payload as `M`.
    ///
    /// # Errors
    ///
    /// The payload is not an `M`.
    pub fn payload_as<M: Message + Default>(&self) -> Result<M, prost::DecodeError> {
        M::decode(self.payload.as_slice())
    }
}

/// An app a worker serves.
#[derive(Clone, PartialEq, Message)]
pub struct AppConfiguration {
    /// The app id (the client's id).
    #[prost(string, tag = "1")]
    pub app_name: String,
    /// The app's version, if set.
    #[prost(string, optional, tag = "2")]
    pub app_version: Option<String>,
    /// The functions, as the JSON array a sync carries.
    #[prost(bytes = "vec", tag = "4")]
    pub functions: Vec<u8>,
    /// `sdk_feature_observations.v1.FeatureObservations`, kept as its encoded bytes.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub feature_observations: Option<Vec<u8>>,
}

/// The tokens the start API handed out.
#[derive(Clone, PartialEq, Message)]
pub struct AuthData {
    /// Proves the session.
    #[prost(string, tag = "1")]
    pub session_token: String,
    /// Allows the sync.
    #[prost(string, tag = "2")]
    pub sync_token: String,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Nanoseconds within the second.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// The machine a worker runs on.
#[derive(Clone, PartialEq, Message)]
pub struct SystemAttributes {
    /// CPU cores.
    #[prost(int32, tag = "1")]
    pub cpu_cores: i32,
    /// Memory in bytes.
    #[prost(int64, tag = "2")]
    pub mem_bytes: i64,
    /// The operating system.
    #[prost(string, tag = "3")]
    pub os: String,
}

/// `WORKER_CONNECT`.
#[derive(Clone, PartialEq, Message)]
pub struct WorkerConnectRequestData {
    /// The connection id the start API gave.
    #[prost(string, tag = "1")]
    pub connection_id: String,
    /// This worker's stable id (the host name by default).
    #[prost(string, tag = "2")]
    pub instance_id: String,
    /// The start API's tokens.
    #[prost(message, optional, tag = "3")]
    pub auth_data: Option<AuthData>,
    /// JSON of the SDK's capabilities (`{"trust_probe":"v1","connect":"v1"}`).
    #[prost(bytes = "vec", tag = "4")]
    pub capabilities: Vec<u8>,
    /// The apps it serves.
    #[prost(message, repeated, tag = "5")]
    pub apps: Vec<AppConfiguration>,
    /// Whether the worker sends `WORKER_READY` itself.
    #[prost(bool, tag = "6")]
    pub worker_manual_readiness_ack: bool,
    /// The machine.
    #[prost(message, optional, tag = "7")]
    pub system_attributes: Option<SystemAttributes>,
    /// The environment (branch) name.
    #[prost(string, optional, tag = "8")]
    pub environment: Option<String>,
    /// The framework (`connect`).
    #[prost(string, tag = "9")]
    pub framework: String,
    /// The platform, if known.
    #[prost(string, optional, tag = "10")]
    pub platform: Option<String>,
    /// The SDK's version.
    #[prost(string, tag = "11")]
    pub sdk_version: String,
    /// The SDK's language.
    #[prost(string, tag = "12")]
    pub sdk_language: String,
    /// When the worker started.
    #[prost(message, optional, tag = "13")]
    pub started_at: Option<Timestamp>,
    /// How many requests it runs at once, if limited.
    #[prost(int64, optional, tag = "14")]
    pub max_worker_concurrency: Option<i64>,
}

/// `GATEWAY_CONNECTION_READY`: Go durations (`"10s"`).
#[derive(Clone, PartialEq, Message)]
pub struct GatewayConnectionReadyData {
    /// How often to send `WORKER_HEARTBEAT`.
    #[prost(string, tag = "1")]
    pub heartbeat_interval: String,
    /// How often to extend each in-flight request's lease.
    #[prost(string, tag = "2")]
    pub extend_lease_interval: String,
    /// How often to send `WORKER_STATUS`.
    #[prost(string, tag = "3")]
    pub status_interval: String,
}

/// `WORKER_STATUS`.
#[derive(Clone, PartialEq, Message)]
pub struct WorkerStatusData {
    /// The requests it is running.
    #[prost(string, repeated, tag = "1")]
    pub in_flight_request_ids: Vec<String>,
    /// Whether it is shutting down.
    #[prost(bool, tag = "2")]
    pub shutdown_requested: bool,
}

/// `GATEWAY_EXECUTOR_REQUEST`: an execution request for a worker.
#[derive(Clone, PartialEq, Message)]
pub struct GatewayExecutorRequestData {
    /// Identifies the request in acks and replies.
    #[prost(string, tag = "1")]
    pub request_id: String,
    /// The account.
    #[prost(string, tag = "2")]
    pub account_id: String,
    /// The environment.
    #[prost(string, tag = "3")]
    pub env_id: String,
    /// The app's id in Inngest (a UUID).
    #[prost(string, tag = "4")]
    pub app_id: String,
    /// The app's name (the client's id).
    #[prost(string, tag = "5")]
    pub app_name: String,
    /// The function's id in Inngest (a UUID).
    #[prost(string, tag = "6")]
    pub function_id: String,
    /// The function's composite id (`<app>-<id>`).
    #[prost(string, tag = "7")]
    pub function_slug: String,
    /// The targeted step (`step` for discovery).
    #[prost(string, optional, tag = "8")]
    pub step_id: Option<String>,
    /// The execution request's JSON body, as serve mode would receive it.
    #[prost(bytes = "vec", tag = "9")]
    pub request_payload: Vec<u8>,
    /// Trace context of the system.
    #[prost(bytes = "vec", tag = "10")]
    pub system_trace_ctx: Vec<u8>,
    /// Trace context of the user.
    #[prost(bytes = "vec", tag = "11")]
    pub user_trace_ctx: Vec<u8>,
    /// The run.
    #[prost(string, tag = "12")]
    pub run_id: String,
    /// The lease the worker extends while it runs the request.
    #[prost(string, tag = "13")]
    pub lease_id: String,
    /// The queue item.
    #[prost(string, tag = "14")]
    pub job_id: String,
}

/// `WORKER_REQUEST_ACK`.
#[derive(Clone, PartialEq, Message)]
pub struct WorkerRequestAckData {
    /// The request.
    #[prost(string, tag = "1")]
    pub request_id: String,
    /// The account.
    #[prost(string, tag = "2")]
    pub account_id: String,
    /// The environment.
    #[prost(string, tag = "3")]
    pub env_id: String,
    /// The app (UUID).
    #[prost(string, tag = "4")]
    pub app_id: String,
    /// The function's composite id.
    #[prost(string, tag = "5")]
    pub function_slug: String,
    /// The targeted step.
    #[prost(string, optional, tag = "6")]
    pub step_id: Option<String>,
    /// Trace context of the system.
    #[prost(bytes = "vec", tag = "7")]
    pub system_trace_ctx: Vec<u8>,
    /// Trace context of the user.
    #[prost(bytes = "vec", tag = "8")]
    pub user_trace_ctx: Vec<u8>,
    /// The run.
    #[prost(string, tag = "9")]
    pub run_id: String,
}

/// `WORKER_REQUEST_EXTEND_LEASE`.
#[derive(Clone, PartialEq, Message)]
pub struct WorkerRequestExtendLeaseData {
    /// The request.
    #[prost(string, tag = "1")]
    pub request_id: String,
    /// The account.
    #[prost(string, tag = "2")]
    pub account_id: String,
    /// The environment.
    #[prost(string, tag = "3")]
    pub env_id: String,
    /// The app (UUID).
    #[prost(string, tag = "4")]
    pub app_id: String,
    /// The function's composite id.
    #[prost(string, tag = "5")]
    pub function_slug: String,
    /// The targeted step.
    #[prost(string, optional, tag = "6")]
    pub step_id: Option<String>,
    /// Trace context of the system.
    #[prost(bytes = "vec", tag = "7")]
    pub system_trace_ctx: Vec<u8>,
    /// Trace context of the user.
    #[prost(bytes = "vec", tag = "8")]
    pub user_trace_ctx: Vec<u8>,
    /// The run.
    #[prost(string, tag = "9")]
    pub run_id: String,
    /// The lease held now.
    #[prost(string, tag = "10")]
    pub lease_id: String,
}

/// `WORKER_REQUEST_EXTEND_LEASE_ACK`.
#[derive(Clone, PartialEq, Message)]
pub struct WorkerRequestExtendLeaseAckData {
    /// The request.
    #[prost(string, tag = "1")]
    pub request_id: String,
    /// The account.
    #[prost(string, tag = "2")]
    pub account_id: String,
    /// The environment.
    #[prost(string, tag = "3")]
    pub env_id: String,
    /// The app (UUID).
    #[prost(string, tag = "4")]
    pub app_id: String,
    /// The function's composite id.
    #[prost(string, tag = "5")]
    pub function_slug: String,
    /// The new lease; `None` when the lease is lost (another worker may have the request).
    #[prost(string, optional, tag = "6")]
    pub new_lease_id: Option<String>,
}

/// How a reply ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
#[non_exhaustive]
pub enum SdkResponseStatus {
    /// Steps to report (serve mode's 206).
    NotCompleted = 0,
    /// The function returned (200).
    Done = 1,
    /// The function failed (4xx/5xx).
    Error = 2,
}

/// `WORKER_REPLY`: a request's answer, as serve mode would give it.
#[derive(Clone, PartialEq, Message)]
pub struct SdkResponse {
    /// The request.
    #[prost(string, tag = "1")]
    pub request_id: String,
    /// The account.
    #[prost(string, tag = "2")]
    pub account_id: String,
    /// The environment.
    #[prost(string, tag = "3")]
    pub env_id: String,
    /// The app (UUID).
    #[prost(string, tag = "4")]
    pub app_id: String,
    /// How it ended.
    #[prost(enumeration = "SdkResponseStatus", tag = "5")]
    pub status: i32,
    /// The JSON body serve mode would answer.
    #[prost(bytes = "vec", tag = "6")]
    pub body: Vec<u8>,
    /// `X-Inngest-No-Retry`.
    #[prost(bool, tag = "7")]
    pub no_retry: bool,
    /// `Retry-After`.
    #[prost(string, optional, tag = "8")]
    pub retry_after: Option<String>,
    /// `X-Inngest-SDK`.
    #[prost(string, tag = "9")]
    pub sdk_version: String,
    /// `X-Inngest-Req-Version`.
    #[prost(uint32, tag = "10")]
    pub request_version: u32,
    /// Trace context of the system.
    #[prost(bytes = "vec", tag = "11")]
    pub system_trace_ctx: Vec<u8>,
    /// Trace context of the user.
    #[prost(bytes = "vec", tag = "12")]
    pub user_trace_ctx: Vec<u8>,
    /// The run.
    #[prost(string, tag = "13")]
    pub run_id: String,
}

/// `WORKER_REPLY_ACK`.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct WorkerReplyAckData {
    /// The request whose reply was received.
    #[prost(string, tag = "1")]
    pub request_id: String,
}

/// Why the gateway refused something (`SYNC_FAILED`).
#[derive(Clone, PartialEq, Message)]
pub struct SystemError {
    /// A machine-readable code.
    #[prost(string, tag = "1")]
    pub code: String,
    /// Extra data.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub data: Option<Vec<u8>>,
    /// The human message.
    #[prost(string, tag = "3")]
    pub message: String,
}

/// The body of `POST {api}/v0/connect/start`.
#[derive(Clone, PartialEq, Message)]
pub struct StartRequest {
    /// Gateway groups that failed and should not be picked again.
    #[prost(string, repeated, tag = "1")]
    pub exclude_gateways: Vec<String>,
}

/// The answer of the start API: where to connect, and with which tokens.
#[derive(Clone, PartialEq, Message)]
pub struct StartResponse {
    /// The connection's id.
    #[prost(string, tag = "1")]
    pub connection_id: String,
    /// The gateway's WebSocket URL.
    #[prost(string, tag = "2")]
    pub gateway_endpoint: String,
    /// The gateway's group, to exclude on the next start if it fails.
    #[prost(string, tag = "3")]
    pub gateway_group: String,
    /// Proves the session in `WORKER_CONNECT`.
    #[prost(string, tag = "4")]
    pub session_token: String,
    /// Allows the sync in `WORKER_CONNECT`.
    #[prost(string, tag = "5")]
    pub sync_token: String,
}

/// The answer of `POST {api}/v0/connect/flush`, whose body is the [`SdkResponse`] the socket
/// could not deliver.
#[derive(Clone, PartialEq, Message)]
pub struct FlushResponse {
    /// The request the flushed reply answers.
    #[prost(string, tag = "1")]
    pub request_id: String,
}
