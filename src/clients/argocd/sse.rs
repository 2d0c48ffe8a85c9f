//! Framing of Argo CD's watch streams.
//!
//! With `Accept: text/event-stream` the server writes each message as `data: <json> \n\n` followed
//! by grpc-gateway's own `\n` delimiter: `data: {"result":{...}} \n\n\n` on the wire, with a space
//! before the blank line, and a keep-alive comment `:\n` every 15 s. Without it, the stream is
//! newline-delimited JSON. Both are parsed here incrementally from arbitrary chunk boundaries;
//! a message is one of `{"result":...}` or `{"error":{...}}`.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::model::app::StreamError;

/// Longest line accepted before the stream is declared broken (a real event is far smaller).
pub const MAX_LINE: usize = 64 * 1024 * 1024;

/// A unit of the stream after framing.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// The payload of one event (the `data:` lines joined with `\n`).
    Data(Vec<u8>),
    /// A comment line (keep-alive).
    KeepAlive,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a stream line is longer than {MAX_LINE} bytes")]
    LineTooLong,
}

/// Incremental parser of `text/event-stream` (the WHATWG rules, which Argo CD's framing follows).
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
    /// The previous chunk ended in `\r`: a following `\n` belongs to the same line end.
    after_cr: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; appends every completed frame to `out`.
    pub fn push(&mut self, mut chunk: &[u8], out: &mut Vec<Frame>) -> Result<(), FrameError> {
        if chunk.is_empty() {
            // An empty read (HTTP bodies may yield them) changes nothing, not even a pending
            // `\r` of a line end split across reads (found by tests/fuzz.rs).
            return Ok(());
        }
        if self.after_cr && chunk.first() == Some(&b'\n') {
            chunk = &chunk[1..];
        }
        self.after_cr = false;
        while !chunk.is_empty() {
            match chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
                None => {
                    if self.line.len() + chunk.len() > MAX_LINE {
                        return Err(FrameError::LineTooLong);
                    }
                    self.line.extend_from_slice(chunk);
                    return Ok(());
                }
                Some(i) => {
                    if self.line.len() + i > MAX_LINE {
                        return Err(FrameError::LineTooLong);
                    }
                    let ended_by_cr = chunk[i] == b'\r';
                    if self.line.is_empty() {
                        self.line_done(&chunk[..i], out);
                    } else {
                        self.line.extend_from_slice(&chunk[..i]);
                        let line = std::mem::take(&mut self.line);
                        self.line_done(&line, out);
                        self.line = line;
                        self.line.clear();
                    }
                    chunk = &chunk[i + 1..];
                    if ended_by_cr {
                        match chunk.first() {
                            Some(b'\n') => chunk = &chunk[1..],
                            None => self.after_cr = true,
                            _ => {}
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<Frame>) {
        if line.is_empty() {
            if self.has_data {
                out.push(Frame::Data(std::mem::take(&mut self.data)));
                self.has_data = false;
            }
            return;
        }
        if line[0] == b':' {
            out.push(Frame::KeepAlive);
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        if field == b"data" {
            if self.has_data {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(value);
            self.has_data = true;
        }
        // `event`, `id` and `retry` are not used by Argo CD; other fields are ignored per spec.
    }
}

/// Incremental parser of newline-delimited JSON (the stream without `Accept: text/event-stream`).
#[derive(Debug, Default)]
pub struct NdjsonParser {
    line: Vec<u8>,
}

impl NdjsonParser {
    pub fn push(&mut self, mut chunk: &[u8], out: &mut Vec<Frame>) -> Result<(), FrameError> {
        while let Some(i) = chunk.iter().position(|&b| b == b'\n') {
            self.line.extend_from_slice(&chunk[..i]);
            let line = std::mem::take(&mut self.line);
            if !line.iter().all(u8::is_ascii_whitespace) {
                out.push(Frame::Data(line));
            }
            chunk = &chunk[i + 1..];
        }
        if self.line.len() + chunk.len() > MAX_LINE {
            return Err(FrameError::LineTooLong);
        }
        self.line.extend_from_slice(chunk);
        Ok(())
    }
}

/// One decoded stream message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message<T> {
    Result(T),
    Error(StreamError),
}

#[derive(Deserialize)]
struct Envelope<T> {
    result: Option<T>,
    error: Option<StreamError>,
}

/// Decodes the JSON of one frame: `{"result":T}` or `{"error":{...}}`.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<Message<T>, String> {
    let env: Envelope<T> = serde_json::from_slice(payload).map_err(|e| {
        let head = String::from_utf8_lossy(&payload[..payload.len().min(80)]).into_owned();
        format!("{e} in a stream message starting {head:?}")
    })?;
    match (env.result, env.error) {
        (_, Some(e)) => Ok(Message::Error(e)),
        (Some(r), None) => Ok(Message::Result(r)),
        (None, None) => Err("a stream message has neither `result` nor `error`".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::app::ApplicationWatchEvent;

    const WIRE: &[u8] = b"data: {\"result\":{\"type\":\"ADDED\",\"application\":{\"metadata\":{\"name\":\"a\"}}}} \n\n\n:\n\ndata: {\"result\":{\"type\":\"MODIFIED\",\"application\":{\"metadata\":{\"name\":\"b\"}}}} \n\n\n";

    fn all(bytes: &[u8], step: usize) -> Vec<Frame> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in bytes.chunks(step) {
            p.push(c, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn real_framing_with_trailing_space_and_extra_newline() {
        let frames = all(WIRE, WIRE.len());
        assert_eq!(frames.len(), 3);
        assert!(matches!(frames[1], Frame::KeepAlive));
        let Frame::Data(d) = &frames[0] else { panic!() };
        assert!(
            d.ends_with(b"}} "),
            "the trailing space is part of the data"
        );
        let Message::Result(ev) = decode::<ApplicationWatchEvent>(d).unwrap() else {
            panic!()
        };
        assert_eq!(ev.kind, "ADDED");
        assert_eq!(ev.application.metadata.name, "a");
    }

    #[test]
    fn any_chunking_gives_the_same_frames() {
        let whole = all(WIRE, WIRE.len());
        for step in 1..20 {
            assert_eq!(all(WIRE, step), whole, "chunk size {step}");
        }
    }

    #[test]
    fn crlf_and_cr_line_ends() {
        let crlf = b"data: {\"result\":1}\r\n\r\n:\r\ndata: {\"result\":2}\r\r";
        for step in 1..crlf.len() {
            let frames = all(crlf, step);
            assert_eq!(
                frames,
                vec![
                    Frame::Data(b"{\"result\":1}".to_vec()),
                    Frame::KeepAlive,
                    Frame::Data(b"{\"result\":2}".to_vec())
                ],
                "chunk size {step}"
            );
        }
    }

    #[test]
    fn multi_line_data_is_joined() {
        let frames = all(b"data: {\"result\":\ndata: 3}\n\n", 4);
        assert_eq!(frames, vec![Frame::Data(b"{\"result\":\n3}".to_vec())]);
        assert_eq!(
            decode::<i32>(b"{\"result\":\n3}").unwrap(),
            Message::Result(3)
        );
    }

    #[test]
    fn error_frame() {
        let wire = b"data: {\"error\":{\"grpc_code\":16,\"http_code\":401,\"message\":\"invalid session: token is expired\",\"http_status\":\"Unauthorized\"}} \n\n\n";
        let frames = all(wire, 7);
        let Frame::Data(d) = &frames[0] else { panic!() };
        match decode::<ApplicationWatchEvent>(d).unwrap() {
            Message::Error(e) => {
                assert_eq!(e.grpc_code, 16);
                assert_eq!(e.http_code, 401);
                assert!(e.message.contains("expired"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_payload_is_an_error_not_a_panic() {
        assert!(decode::<ApplicationWatchEvent>(b"{\"result\":{\"type\":").is_err());
        assert!(decode::<ApplicationWatchEvent>(b"\xff\xfe").is_err());
        assert!(decode::<ApplicationWatchEvent>(b"{}").is_err());
    }

    #[test]
    fn ndjson() {
        let mut p = NdjsonParser::default();
        let mut out = Vec::new();
        p.push(b"{\"result\":1}\n\n{\"res", &mut out).unwrap();
        p.push(b"ult\":2}\n", &mut out).unwrap();
        assert_eq!(
            out,
            vec![
                Frame::Data(b"{\"result\":1}".to_vec()),
                Frame::Data(b"{\"result\":2}".to_vec())
            ]
        );
    }

    #[test]
    fn fields_and_comments_that_are_not_data_are_ignored() {
        let frames = all(b"event: x\nid: 4\nretry: 10\n\n: hello\ndata\n\n", 3);
        assert_eq!(frames, vec![Frame::KeepAlive, Frame::Data(Vec::new())]);
    }
}
