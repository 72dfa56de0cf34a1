//! The connect messages against the official JS worker's recorded WebSocket frames
//! (`tests/conformance/connect/`, recorded from `inngest` 4.24.0 through a probe gateway): every
//! frame decodes as the kind it was recorded as, its payload decodes into our message with the
//! recorded fields, and encoding our message gives back the very bytes the JS worker (or the
//! probe gateway) sent.

#![cfg(feature = "connect")]

use std::path::PathBuf;

use base64::Engine as _;
use inngest_runtime::protocol::connect::*;
use prost::Message;
use serde_json::Value;

fn transcript(name: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/conformance/connect")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("a JSON transcript")
}

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

fn kind_named(name: &str) -> GatewayMessageType {
    GatewayMessageType::from_name(name).unwrap_or_else(|| panic!("unknown kind {name}"))
}

/// Decodes the payload as `M`, checks that it encodes back to the same bytes, and returns it.
fn round_trip<M: Message + Default>(frame: &ConnectMessage) -> M {
    let message: M = frame.payload_as().expect("the payload decodes");
    assert_eq!(
        message.encode_to_vec(),
        frame.payload,
        "re-encoding {:?} changes its bytes",
        frame.kind()
    );
    message
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

fn check(name: &str) -> usize {
    let mut frames = 0;
    for entry in transcript(name) {
        let Some(kind) = entry["kind"].as_str() else {
            assert_eq!(
                entry["protocol"], SUBPROTOCOL,
                "the upgrade asks for connect's subprotocol"
            );
            continue;
        };
        let raw = b64(entry["raw_base64"].as_str().expect("raw bytes"));
        let frame = ConnectMessage::decode(raw.as_slice()).expect("a ConnectMessage");
        assert_eq!(frame.kind(), kind_named(kind), "{name}: {entry}");
        assert_eq!(
            frame.encode_to_vec(),
            raw,
            "{kind}: the frame re-encodes to its bytes"
        );
        let p = &entry["payload"];
        match frame.kind() {
            GatewayMessageType::WorkerConnect => {
                let m: WorkerConnectRequestData = round_trip(&frame);
                assert_eq!(m.connection_id, text(p, "connectionId"));
                assert_eq!(m.instance_id, text(p, "instanceId"));
                let auth = m.auth_data.expect("auth data");
                assert_eq!(auth.session_token, text(&p["authData"], "sessionToken"));
                assert_eq!(
                    m.capabilities,
                    b64(p["capabilities"].as_str().expect("caps"))
                );
                assert_eq!(m.apps.len(), 1);
                assert_eq!(m.apps[0].app_name, text(&p["apps"][0], "appName"));
                let functions: Value =
                    serde_json::from_slice(&m.apps[0].functions).expect("functions are JSON");
                assert_eq!(functions[0]["id"], "probe-app-welcome-user");
                assert!(m.apps[0].feature_observations.is_some());
                assert_eq!(m.sdk_language, text(p, "sdkLanguage"));
                assert_eq!(m.sdk_version, text(p, "sdkVersion"));
                assert_eq!(m.framework, text(p, "framework"));
                assert!(m.started_at.is_some() && m.system_attributes.is_some());
            }
            GatewayMessageType::GatewayConnectionReady => {
                let m: GatewayConnectionReadyData = round_trip(&frame);
                assert_eq!(m.heartbeat_interval, text(p, "heartbeatInterval"));
                assert_eq!(m.extend_lease_interval, text(p, "extendLeaseInterval"));
            }
            GatewayMessageType::GatewayExecutorRequest => {
                let m: GatewayExecutorRequestData = round_trip(&frame);
                assert_eq!(m.request_id, text(p, "requestId"));
                assert_eq!(m.function_slug, text(p, "functionSlug"));
                assert_eq!(m.step_id.as_deref(), p["stepId"].as_str());
                assert_eq!(m.lease_id, text(p, "leaseId"));
                assert_eq!(m.run_id, text(p, "runId"));
                let body: Value =
                    serde_json::from_slice(&m.request_payload).expect("the payload is JSON");
                assert_eq!(body, p["requestPayload_json"]);
            }
            GatewayMessageType::WorkerRequestAck => {
                let m: WorkerRequestAckData = round_trip(&frame);
                assert_eq!(m.request_id, text(p, "requestId"));
                assert_eq!(m.function_slug, text(p, "functionSlug"));
            }
            GatewayMessageType::WorkerReply => {
                let m: SdkResponse = round_trip(&frame);
                assert_eq!(m.request_id, text(p, "requestId"));
                let status = p["status"].as_str().unwrap_or("NOT_COMPLETED");
                assert_eq!(m.status().name(), status);
                assert_eq!(m.sdk_version, text(p, "sdkVersion"));
                assert_eq!(
                    i64::from(m.request_version),
                    p["requestVersion"].as_i64().unwrap_or(0)
                );
                let body: Value = serde_json::from_slice(&m.body).expect("the body is JSON");
                assert_eq!(body, p["body_json"]);
            }
            GatewayMessageType::WorkerReplyAck => {
                let m: WorkerReplyAckData = round_trip(&frame);
                assert_eq!(m.request_id, text(p, "requestId"));
            }
            GatewayMessageType::GatewayHello
            | GatewayMessageType::WorkerReady
            | GatewayMessageType::WorkerPause => {
                assert!(frame.payload.is_empty(), "{kind} carries nothing");
            }
            other => panic!("{name}: a {other:?} frame this test does not check"),
        }
        frames += 1;
    }
    frames
}

#[test]
fn recorded_frames_decode_and_encode_back_to_their_bytes() {
    assert_eq!(check("03-ws-transcript-dev.json"), 13);
    assert_eq!(check("04-ws-transcript-cloud.json"), 13);
}

#[test]
fn the_recorded_start_exchange_decodes() {
    let requests = transcript("01-start-requests.json");
    for r in &requests {
        let body = b64(r["body_base64"].as_str().expect("a body"));
        let start = StartRequest::decode(body.as_slice()).expect("a StartRequest");
        let recorded: Vec<String> = r["body_decoded_StartRequest"]["excludeGateways"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|g| g.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(start.exclude_gateways, recorded);
        assert_eq!(
            start.encode_to_vec(),
            body,
            "the start request re-encodes to its bytes"
        );
        assert_eq!(r["headers"]["content-type"], "application/protobuf");
    }
    let expected = &transcript_object("02-start-response.json")["StartResponse"];
    let response = StartResponse {
        connection_id: text(expected, "connectionId"),
        gateway_endpoint: text(expected, "gatewayEndpoint"),
        gateway_group: text(expected, "gatewayGroup"),
        session_token: text(expected, "sessionToken"),
        sync_token: text(expected, "syncToken"),
    };
    let back = StartResponse::decode(response.encode_to_vec().as_slice()).expect("decodes");
    assert_eq!(back, response);
    assert_eq!(back.gateway_endpoint, "ws://127.0.0.1:9101/v0/connect");
}

fn transcript_object(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/conformance/connect")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("JSON")
}
