//! Locust's wire message: msgpack of `[type, data, node_id]`, one ZeroMQ frame.
//! Decoding checks every part, so a malformed frame is an error naming what was wrong,
//! never a panic.

use rmpv::Value;

/// Frames above this are refused unread (a stats report of 500 endpoints is ~200 KB).
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub kind: String,
    pub data: Value,
    pub node_id: String,
}

/// Why a frame is not a message.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FrameError {
    #[error("frame of {0} bytes is over the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("frame is not valid msgpack: {0}")]
    NotMsgpack(String),
    #[error("frame has {0} trailing bytes after the message")]
    Trailing(usize),
    #[error("message is not a [type, data, node_id] array: {0}")]
    Shape(String),
}

impl Message {
    pub fn new(kind: &str, data: Value, node_id: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            data,
            node_id: node_id.to_owned(),
        }
    }

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
        let kind = kind
            .as_str()
            .ok_or_else(|| FrameError::Shape(format!("type {kind} is not a string")))?
            .to_owned();
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

/// Looks up `key` in a msgpack map.
pub fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// A msgpack map from string keys.
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
