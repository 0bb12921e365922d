//! Locust's wire message: msgpack of `[type, data, node_id]`, one ZeroMQ frame.
//! Decoding checks every part, so a malformed frame is an error naming what was wrong,
//! never a panic.

use rmpv::Value;

/// Frames above this are refused unread (a stats report of 500 endpoints is ~200 KB).
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
/// One frame of the protocol, its data not yet read by type (see `Payload`).
pub struct Message {
    /// Its type.
    pub kind: Kind,
    /// Its data, any msgpack value.
    pub data: Value,
    /// The worker it is from or to (empty when the sender sent nil).
    pub node_id: String,
}

/// The message types of Locust's protocol that either side acts on; any other type is
/// kept by name (`Other`), logged and ignored, as Locust does with types it does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    ClientReady,
    Ack,
    Spawn,
    Spawning,
    SpawningComplete,
    Stop,
    ClientStopped,
    Quit,
    Heartbeat,
    Stats,
    Exception,
    UpdateUserClass,
    Other(String),
}

impl Kind {
    pub fn as_str(&self) -> &str {
        match self {
            Kind::ClientReady => "client_ready",
            Kind::Ack => "ack",
            Kind::Spawn => "spawn",
            Kind::Spawning => "spawning",
            Kind::SpawningComplete => "spawning_complete",
            Kind::Stop => "stop",
            Kind::ClientStopped => "client_stopped",
            Kind::Quit => "quit",
            Kind::Heartbeat => "heartbeat",
            Kind::Stats => "stats",
            Kind::Exception => "exception",
            Kind::UpdateUserClass => "update_user_class",
            Kind::Other(s) => s,
        }
    }
}

impl From<&str> for Kind {
    fn from(s: &str) -> Self {
        match s {
            "client_ready" => Kind::ClientReady,
            "ack" => Kind::Ack,
            "spawn" => Kind::Spawn,
            "spawning" => Kind::Spawning,
            "spawning_complete" => Kind::SpawningComplete,
            "stop" => Kind::Stop,
            "client_stopped" => Kind::ClientStopped,
            "quit" => Kind::Quit,
            "heartbeat" => Kind::Heartbeat,
            "stats" => Kind::Stats,
            "exception" => Kind::Exception,
            "update_user_class" => Kind::UpdateUserClass,
            other => Kind::Other(other.to_owned()),
        }
    }
}

impl PartialEq<&str> for Kind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A worker's state as a master tracks it (and Locust's UI shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerState {
    /// Connected, no users asked for.
    Ready,
    /// Starting the users it was asked for.
    Spawning,
    /// Running its users.
    Running,
    /// Stopping its users.
    Stopping,
    /// Its users stopped; the test is over for it.
    Stopped,
    /// Shutting down (Locust's name).
    Cleanup,
    /// No heartbeat for too long: its users are given to the others.
    Missing,
}

impl WorkerState {
    /// Locust's name for the state, as heartbeats and the UI carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerState::Ready => "ready",
            WorkerState::Spawning => "spawning",
            WorkerState::Running => "running",
            WorkerState::Stopping => "stopping",
            WorkerState::Stopped => "stopped",
            WorkerState::Cleanup => "cleanup",
            WorkerState::Missing => "missing",
        }
    }

    /// The state a heartbeat reports, by Locust's names; an unknown one counts as running
    /// (a master then waits for it rather than think it stopped).
    pub fn from_heartbeat(s: &str) -> Self {
        match s {
            "ready" => WorkerState::Ready,
            "spawning" => WorkerState::Spawning,
            "stopping" => WorkerState::Stopping,
            "stopped" => WorkerState::Stopped,
            "cleanup" => WorkerState::Cleanup,
            "missing" => WorkerState::Missing,
            _ => WorkerState::Running,
        }
    }
}

/// Why a frame is not a message.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FrameError {
    #[error("frame of {0} bytes is over the {MAX_FRAME}-byte limit")]
    /// Refused unread: longer than [`MAX_FRAME`].
    TooLarge(usize),
    #[error("frame is not valid msgpack: {0}")]
    /// Not msgpack at all.
    NotMsgpack(String),
    #[error("frame has {0} trailing bytes after the message")]
    /// A message followed by more bytes.
    Trailing(usize),
    #[error("message is not a [type, data, node_id] array: {0}")]
    /// Msgpack, but not `[type, data, node_id]`.
    Shape(String),
}

impl Message {
    /// A message of `kind` with `data`, to or from `node_id`.
    pub fn new(kind: impl Into<Kind>, data: Value, node_id: &str) -> Self {
        Self {
            kind: kind.into(),
            data,
            node_id: node_id.to_owned(),
        }
    }

    /// The frame's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let v = Value::Array(vec![
            Value::from(self.kind.as_str()),
            self.data.clone(),
            Value::from(self.node_id.as_str()),
        ]);
        let mut out = Vec::with_capacity(64);
        rmpv::encode::write_value(&mut out, &v).expect("writing to a Vec cannot fail");
        out
    }

    /// Reads a frame; any malformation is an error naming it.
    pub fn decode(frame: &[u8]) -> Result<Self, FrameError> {
        if frame.len() > MAX_FRAME {
            return Err(FrameError::TooLarge(frame.len()));
        }
        let mut cursor = frame;
        let v = rmpv::decode::read_value(&mut cursor)
            .map_err(|e| FrameError::NotMsgpack(e.to_string()))?;
        if !cursor.is_empty() {
            return Err(FrameError::Trailing(cursor.len()));
        }
        let Value::Array(parts) = v else {
            return Err(FrameError::Shape(format!("got {v}")));
        };
        let [kind, data, node]: [Value; 3] = parts
            .try_into()
            .map_err(|p: Vec<Value>| FrameError::Shape(format!("{} elements", p.len())))?;
        let kind = Kind::from(
            kind.as_str()
                .ok_or_else(|| FrameError::Shape(format!("type {kind} is not a string")))?,
        );
        let node_id = match node {
            Value::String(s) => s
                .into_str()
                .ok_or_else(|| FrameError::Shape("node id is not UTF-8".into()))?,
            Value::Nil => String::new(),
            other => {
                return Err(FrameError::Shape(format!(
                    "node id {other} is not a string"
                )))
            }
        };
        Ok(Self {
            kind,
            data,
            node_id,
        })
    }
}

/// The type of a `[type, data, node_id]` frame, read from its first bytes without decoding
/// the rest: a master decodes nothing but the `client_ready` of a connection it has not
/// admitted. `None` if the frame does not start that way.
pub fn peek_kind(frame: &[u8]) -> Option<&str> {
    let (len, rest) = msgpack_len(frame, (0x90, 0x0f), [None, Some(0xdc), Some(0xdd)])?;
    if len != 3 {
        return None;
    }
    let (len, rest) = msgpack_len(rest, (0xa0, 0x1f), [Some(0xd9), Some(0xda), Some(0xdb)])?;
    std::str::from_utf8(rest.get(..len)?).ok()
}

/// A msgpack array or string header: a fix marker (`fix.0` with the length in the bits of
/// `fix.1`), or one of the `wide` markers followed by a big-endian length of 1, 2 or 4
/// bytes (arrays have no 1-byte form).
fn msgpack_len(bytes: &[u8], fix: (u8, u8), wide: [Option<u8>; 3]) -> Option<(usize, &[u8])> {
    let (&marker, rest) = bytes.split_first()?;
    if marker & !fix.1 == fix.0 {
        return Some((usize::from(marker & fix.1), rest));
    }
    let width = 1 << wide.iter().position(|w| *w == Some(marker))?;
    let (len, rest) = rest.split_at_checked(width)?;
    let len = len.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b));
    Some((len, rest))
}

/// Looks up `key` in a msgpack map.
pub fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// A msgpack map from string keys.
#[cfg(test)]
pub fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_is_read_without_the_rest() {
        let m = Message::new("client_ready", Value::from("2.47.0"), "host_abc");
        assert_eq!(peek_kind(&m.encode()), Some("client_ready"));
        // The data is not read: a broken one after the type still peeks.
        let mut broken = b"\x93\xa5stats".to_vec();
        broken.push(0xc1);
        assert_eq!(peek_kind(&broken), Some("stats"));
        // Wide headers, as another encoder may write them.
        assert_eq!(peek_kind(b"\xdc\x00\x03\xd9\x04quit"), Some("quit"));
        assert_eq!(
            peek_kind(b"\xdd\x00\x00\x00\x03\xda\x00\x03ack"),
            Some("ack")
        );
        for garbage in [
            &b""[..],
            b"\x92\xa1a",
            b"\x93\x01",
            b"\x93\xa9short",
            b"\xc1",
        ] {
            assert_eq!(peek_kind(garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn round_trips_and_rejects_garbage_by_name() {
        let m = Message::new(
            "heartbeat",
            map(vec![("state", "running".into())]),
            "host_abc",
        );
        assert_eq!(Message::decode(&m.encode()).unwrap(), m);
        assert!(
            matches!(Message::decode(b"\x93\xa1"), Err(FrameError::NotMsgpack(_))),
            "truncated"
        );
        assert!(Message::decode(b"\xc1garbage").is_err());
        let mut two = Vec::new();
        rmpv::encode::write_value(&mut two, &Value::Array(vec!["a".into(), Value::Nil])).unwrap();
        assert_eq!(
            Message::decode(&two),
            Err(FrameError::Shape("2 elements".into()))
        );
        let mut extra = m.encode();
        extra.push(0);
        assert_eq!(Message::decode(&extra), Err(FrameError::Trailing(1)));
        assert_eq!(
            Message::decode(&vec![0u8; MAX_FRAME + 1]),
            Err(FrameError::TooLarge(MAX_FRAME + 1))
        );
        let mut not_str = Vec::new();
        rmpv::encode::write_value(
            &mut not_str,
            &Value::Array(vec![1.into(), Value::Nil, "n".into()]),
        )
        .unwrap();
        assert!(matches!(
            Message::decode(&not_str),
            Err(FrameError::Shape(_))
        ));
    }
}
