//! The watch stream: server-sent events (or newline-delimited JSON), keep-alives, faults.

use super::*;

/// Encodes one stream message in the server's SSE framing.
pub fn sse_frame(payload: &[u8]) -> Bytes {
    let mut b = Vec::with_capacity(payload.len() + 10);
    b.extend_from_slice(b"data: ");
    b.extend_from_slice(payload);
    b.extend_from_slice(b" \n\n\n");
    Bytes::from(b)
}

pub(super) struct StreamState {
    pub(super) inst: Arc<Instance>,
    pub(super) initial: VecDeque<Bytes>,
    pub(super) rx: broadcast::Receiver<WatchEvent>,
    pub(super) drop_rx: tokio::sync::watch::Receiver<u64>,
    pub(super) keepalive: tokio::time::Interval,
    pub(super) query: Query,
    pub(super) sse: bool,
    pub(super) last_sent: HashMap<String, u64>,
    pub(super) done: bool,
    /// The fault profile's plan for this stream, and when it strikes.
    pub(super) fault: crate::demo::faults::StreamFault,
    pub(super) strike_at: Option<tokio::time::Instant>,
    /// The stream has gone silent (a stall from the profile).
    pub(super) silent: bool,
}

impl StreamState {
    pub(super) fn encode(&mut self, ev: &WatchEvent) -> Option<Bytes> {
        if !matches(&ev.app, &self.query) {
            return None;
        }
        let fields = fields_param(&self.query);
        let msg = json!({"result": {"type": ev.kind, "application": ev.app.as_ref()}});
        let msg = apply_fields(msg, &fields);
        let bytes = serde_json::to_vec(&msg).ok()?;
        let h = bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ *b as u64).wrapping_mul(0x100000001b3)
        });
        // Identical bytes for the same app are suppressed, as NewStreamForwarder does.
        if self.last_sent.insert(ev.app.metadata.name.clone(), h) == Some(h) {
            return None;
        }
        Some(if self.sse {
            sse_frame(&bytes)
        } else {
            let mut b = bytes;
            b.push(b'\n');
            Bytes::from(b)
        })
    }
}

pub(super) fn stream(inst: Arc<Instance>, q: &Query, sse: bool) -> Response<Body> {
    let query = Query(q.0.clone());
    let rx = inst.events.subscribe();
    let since: Option<u64> = q.get("resourceVersion").and_then(|v| v.parse().ok());
    let initial_events: Vec<WatchEvent> = {
        let st = inst.read();
        st.apps
            .values()
            .filter(|a| {
                since.is_none_or(|rv| {
                    a.app.metadata.resource_version.parse::<u64>().unwrap_or(0) > rv
                })
            })
            .map(|a| WatchEvent {
                kind: "ADDED",
                app: Arc::new(a.app.clone()),
            })
            .collect()
    };
    let mut keepalive = tokio::time::interval(inst.keepalive);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let drop_rx = inst.drop_streams.subscribe();
    let fault = crate::demo::faults::stream(inst.faults().profile, &inst.dice);
    let mut state = StreamState {
        fault,
        strike_at: fault.end_after.map(|d| tokio::time::Instant::now() + d),
        silent: false,
        inst: inst.clone(),
        initial: VecDeque::new(),
        rx,
        drop_rx,
        keepalive,
        query,
        sse,
        last_sent: HashMap::new(),
        done: false,
    };
    for ev in &initial_events {
        if let Some(b) = state.encode(ev) {
            state.initial.push_back(b);
        }
    }
    let body = futures::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        if let Some(b) = st.initial.pop_front() {
            return Some((Ok::<_, Infallible>(Frame::data(b)), st));
        }
        loop {
            let stalled = st.inst.faults().stall_streams || st.silent;
            let strike = st.strike_at;
            tokio::select! {
                _ = st.drop_rx.changed() => return None,
                _ = tokio::time::sleep_until(strike.unwrap_or_else(tokio::time::Instant::now)), if strike.is_some() => {
                    st.strike_at = None;
                    if st.fault.stall {
                        st.silent = true;
                        continue;
                    }
                    if !st.fault.error_frame {
                        return None;
                    }
                    st.done = true;
                    let msg = br#"{"error":{"grpc_code":14,"http_code":503,"message":"transport is closing","http_status":"Service Unavailable","details":[]}}"#;
                    let b = if st.sse { sse_frame(msg) } else { Bytes::from([&msg[..], b"\n"].concat()) };
                    return Some((Ok(Frame::data(b)), st));
                }
                _ = st.keepalive.tick() => {
                    if !stalled && st.sse {
                        return Some((Ok(Frame::data(Bytes::from_static(b":\n"))), st));
                    }
                }
                ev = st.rx.recv(), if !stalled => match ev {
                    Ok(ev) => {
                        if let Some(b) = st.encode(&ev) {
                            return Some((Ok(Frame::data(b)), st));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Too slow a reader: end the stream, the client relists.
                        st.done = true;
                        let msg = br#"{"error":{"grpc_code":10,"http_code":409,"message":"watch stream fell behind; reconnect","http_status":"Conflict","details":[]}}"#;
                        let b = if st.sse { sse_frame(msg) } else { Bytes::from([&msg[..], b"\n"].concat()) };
                        return Some((Ok(Frame::data(b)), st));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = tokio::time::sleep(Duration::from_millis(200)), if stalled => {}
            }
        }
    });
    let mut r = Response::new(StreamBody::new(body).boxed());
    let h = r.headers_mut();
    let ct = if sse {
        "text/event-stream"
    } else {
        "application/json"
    };
    h.insert(header::CONTENT_TYPE, ct.parse().expect("header"));
    h.insert("x-content-type-options", "nosniff".parse().expect("header"));
    h.insert(header::CACHE_CONTROL, "no-cache".parse().expect("header"));
    r
}
