//! Each message of Locust's protocol as a Rust type: a [`Message`]'s data is decoded
//! (with serde, from the msgpack already read and size-checked) into one [`Payload`], and
//! a payload is written with `rmp_serde::to_vec_named`, so structs become maps as Locust's
//! Python dicts do. Validating what a worker claims (its stats) happens after decoding,
//! in `validate.rs`.
//!
//! `golden_frames.txt` pins the bytes of every kind; the tests against real Locust masters
//! and workers check that the shapes are Locust's.

use rmpv::Value;
use serde::{Deserialize, Serialize};

use super::message::{FrameError, Message};
use crate::stats::generator::GeneratorReport;
use crate::stats::{LocustEntry, LocustError};

/// What one message says, by its type.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// A worker announces itself (again, after a `stop` or a reconnection).
    ClientReady(Ready),
    /// A master's welcome.
    Ack(Ack),
    /// A master's order to run users.
    Spawn(Box<Spawn>),
    /// A worker starts the users it was given.
    Spawning,
    /// A worker runs the users it was given: its count per class.
    SpawningComplete(Classes),
    /// A master ends the test on a worker (which stays connected).
    Stop,
    /// A worker's users have stopped.
    ClientStopped,
    /// Either side leaves: a master ends the run, a worker goes away.
    Quit,
    /// From a master: nothing; from a worker: its state and load.
    Heartbeat(Option<Beat>),
    /// A worker's statistics since its last report.
    Stats(Box<Report>),
    /// An exception in a worker's task.
    Exception(ExceptionReport),
    /// A master asks a worker to rebuild its connection.
    Reconnect,
    /// A Locust worker's log lines for its master's UI: read and dropped.
    Logs,
    /// A Locust master's change of user classes from its UI: read and ignored.
    UpdateUserClass,
    /// Any other type: a test's own message (Locust's `send_message`), kept as sent.
    Custom {
        /// Its type.
        kind: String,
        /// What it carries, as sent.
        data: Value,
    },
}

/// Why a message's data is not what its type says.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("'{kind}' message: {why}")]
pub struct PayloadError {
    pub kind: String,
    pub why: String,
}

impl Payload {
    /// Decodes a frame: its envelope (size, shape), then its data by type.
    pub fn decode(frame: &[u8]) -> Result<(Self, String), DecodeError> {
        let msg = Message::decode(frame)?;
        let node = msg.node_id.clone();
        Ok((Self::from_message(msg)?, node))
    }

    /// The typed data of an envelope already read.
    pub fn from_message(msg: Message) -> Result<Self, PayloadError> {
        fn typed<T: serde::de::DeserializeOwned>(
            kind: &str,
            data: Value,
        ) -> Result<T, PayloadError> {
            rmpv::ext::from_value(data).map_err(|e| PayloadError {
                kind: kind.to_owned(),
                why: e.to_string(),
            })
        }
        let kind = msg.kind.as_str().to_owned();
        let k = kind.as_str();
        Ok(match k {
            "client_ready" => Payload::ClientReady(Ready::from_value(msg.data)),
            "ack" => Payload::Ack(typed(k, msg.data)?),
            "spawn" => Payload::Spawn(Box::new(typed(k, msg.data)?)),
            "spawning" => Payload::Spawning,
            "spawning_complete" => {
                let done: SpawningComplete = typed(k, msg.data)?;
                Payload::SpawningComplete(done.user_classes_count)
            }
            "stop" => Payload::Stop,
            "client_stopped" => Payload::ClientStopped,
            "quit" => Payload::Quit,
            "heartbeat" if msg.data.is_nil() => Payload::Heartbeat(None),
            "heartbeat" => Payload::Heartbeat(Some(typed(k, msg.data)?)),
            "stats" => Payload::Stats(Box::new(typed(k, msg.data)?)),
            "exception" => Payload::Exception(typed(k, msg.data)?),
            "reconnect" => Payload::Reconnect,
            "logs" => Payload::Logs,
            "update_user_class" => Payload::UpdateUserClass,
            _ => Payload::Custom {
                kind,
                data: msg.data,
            },
        })
    }

    /// The message's type, as Locust names it.
    pub fn kind(&self) -> &str {
        match self {
            Payload::ClientReady(_) => "client_ready",
            Payload::Ack(_) => "ack",
            Payload::Spawn(_) => "spawn",
            Payload::Spawning => "spawning",
            Payload::SpawningComplete(_) => "spawning_complete",
            Payload::Stop => "stop",
            Payload::ClientStopped => "client_stopped",
            Payload::Quit => "quit",
            Payload::Heartbeat(_) => "heartbeat",
            Payload::Stats(_) => "stats",
            Payload::Exception(_) => "exception",
            Payload::Reconnect => "reconnect",
            Payload::Logs => "logs",
            Payload::UpdateUserClass => "update_user_class",
            Payload::Custom { kind, .. } => kind,
        }
    }

    /// `[type, data, node_id]` in msgpack, maps named as Locust's dicts.
    pub fn encode(&self, node: &str) -> Vec<u8> {
        fn frame<T: Serialize + ?Sized>(kind: &str, data: &T, node: &str) -> Vec<u8> {
            rmp_serde::to_vec_named(&(kind, data, node)).expect("plain data always encodes")
        }
        let k = self.kind();
        match self {
            Payload::ClientReady(r) => frame(k, r, node),
            Payload::Ack(a) => frame(k, a, node),
            Payload::Spawn(s) => frame(k, s, node),
            Payload::SpawningComplete(c) => frame(
                k,
                &SpawningComplete {
                    user_count: c.total(),
                    user_classes_count: c.clone(),
                },
                node,
            ),
            Payload::Heartbeat(b) => frame(k, b, node),
            Payload::Stats(r) => frame(k, r, node),
            Payload::Exception(e) => frame(k, e, node),
            Payload::Custom { data, .. } => frame(k, data, node),
            Payload::Spawning
            | Payload::Stop
            | Payload::ClientStopped
            | Payload::Quit
            | Payload::Reconnect
            | Payload::Logs
            | Payload::UpdateUserClass => frame(k, &(), node),
        }
    }
}

/// A frame that is not a message, or whose data does not fit its type.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

/// What a `client_ready` carries. Locust workers send their version (or -1, a development
/// build, which Stampede's workers send too); a Stampede worker under `--worker-token`
/// sends a map with its version and the token, which only a Stampede master reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Ready {
    Stampede {
        version: String,
        token: Option<String>,
    },
    Locust(Value),
}

impl Ready {
    pub(crate) fn from_value(v: Value) -> Self {
        let text = |key: &str| {
            super::message::get(&v, key)
                .and_then(|t| t.as_str())
                .map(str::to_owned)
        };
        match (
            &v,
            text("stampede").or_else(|| text("version")),
            text("token"),
        ) {
            (Value::Map(_), version, token) if version.is_some() || token.is_some() => {
                Ready::Stampede {
                    version: version.unwrap_or_default(),
                    token,
                }
            }
            _ => Ready::Locust(v),
        }
    }

    /// The token it presents, if any.
    pub fn token(&self) -> Option<&str> {
        match self {
            Ready::Stampede { token, .. } => token.as_deref(),
            Ready::Locust(_) => None,
        }
    }
}

impl Serialize for Ready {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Ready::Locust(v) => v.serialize(s),
            Ready::Stampede { version, token } => {
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("stampede", version)?;
                if let Some(t) = token {
                    m.serialize_entry("token", t)?;
                }
                m.end()
            }
        }
    }
}

/// A master's welcome: the worker's index, and whether the master is Stampede's (which
/// reads exact histograms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    #[serde(default)]
    pub index: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stampede: Option<u64>,
}

/// Users per class, in the sender's order: a map from class name to count. Reading it,
/// entries that are not a name and a count are left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Classes(pub Vec<(String, u64)>);

impl Classes {
    pub fn total(&self) -> u64 {
        self.0
            .iter()
            .map(|(_, n)| n)
            .fold(0, |a, n| a.saturating_add(*n))
    }
}

impl Serialize for Classes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for Classes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(Classes(
            v.as_map()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_u64()?)))
                        .collect()
                })
                .unwrap_or_default(),
        ))
    }
}

/// A master's order to run users: absolute counts per class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spawn {
    /// Orders older than the last one obeyed are stale.
    #[serde(default)]
    pub timestamp: f64,
    #[serde(default)]
    pub user_classes_count: Classes,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub stop_timeout: Option<f64>,
    #[serde(default)]
    pub parsed_options: ParsedOptions,
}

/// The master's options, which workers may follow: any keys (a Locust master sends its
/// whole command line, a locustfile's own arguments included), in the sender's order.
/// A Stampede worker reads two of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedOptions(pub Vec<(String, Value)>);

impl ParsedOptions {
    /// From a msgpack map (keys that are not strings left out).
    pub fn from_value(v: &Value) -> Self {
        ParsedOptions(
            v.as_map()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The master's `--wait-scale`, if it is a sane one.
    pub fn wait_scale(&self) -> Option<f64> {
        self.get("wait_scale")
            .and_then(|v| v.as_f64().or_else(|| v.as_i64().map(|i| i as f64)))
            .filter(|f| f.is_finite() && *f >= 0.0)
    }

    /// The plan's own options on the master's command line, for workers to build the same
    /// plan.
    pub fn plan_args(&self) -> Option<Vec<String>> {
        let list = self.get("stampede_plan_args")?.as_array()?;
        Some(
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        )
    }
}

impl Serialize for ParsedOptions {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for ParsedOptions {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ParsedOptions::from_value(&Value::deserialize(d)?))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SpawningComplete {
    #[serde(default)]
    user_classes_count: Classes,
    #[serde(default, deserialize_with = "any_count")]
    user_count: u64,
}

/// A total the sender states but the reader does not rely on (it sums the classes): read
/// as 0 when it is not a count, rather than drop the message.
fn any_count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(Value::deserialize(d)?.as_u64().unwrap_or(0))
}

/// A worker's heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Beat {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub current_cpu_usage: f64,
    #[serde(default)]
    pub current_memory_usage: u64,
    /// A Stampede worker's generator health (a Locust master ignores the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stampede_generator: Option<Generator>,
}

/// [`GeneratorReport`] on the wire. Read back through [`Generator::report`], which
/// refuses values that are not numbers and clamps the rest, so a hostile peer cannot push
/// the master's figures to infinity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generator {
    saturated: bool,
    saturated_now: bool,
    /// Whole numbers, written as integers; read as any number (and checked after).
    #[serde(serialize_with = "whole")]
    saturated_secs: f64,
    worst_lag_ms: f64,
    lag_p99_ms: f64,
    peak_cpu_percent: f64,
    #[serde(serialize_with = "whole")]
    cores: f64,
}

fn whole<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(*v as u64)
}

impl Generator {
    pub fn of(g: &GeneratorReport) -> Self {
        Self {
            saturated: g.saturated,
            saturated_now: g.saturated_now,
            saturated_secs: g.saturated_secs as f64,
            worst_lag_ms: g.worst_lag_ms,
            lag_p99_ms: g.lag_p99_ms,
            peak_cpu_percent: g.peak_cpu_percent,
            cores: g.cores as f64,
        }
    }

    pub fn report(&self) -> Option<GeneratorReport> {
        let f = |v: f64, max: f64| v.is_finite().then(|| v.clamp(0.0, max));
        Some(GeneratorReport {
            saturated: self.saturated,
            saturated_now: self.saturated_now,
            saturated_secs: f(self.saturated_secs, 3.2e7)? as u64,
            worst_lag_ms: f(self.worst_lag_ms, 3.6e6)?,
            lag_p99_ms: f(self.lag_p99_ms, 3.6e6)?,
            peak_cpu_percent: f(self.peak_cpu_percent, 100.0)?,
            cores: f(self.cores, 65_536.0)? as u64,
        })
    }
}

/// A worker's `stats` report: what it counted since its last one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// One entry per request name, Locust's shape.
    pub stats: Vec<LocustEntry>,
    /// The Aggregated row.
    pub stats_total: Total,
    #[serde(default)]
    /// Failures by key.
    pub errors: Errors,
    #[serde(default)]
    /// Users per class on the worker now.
    pub user_classes_count: Classes,
    #[serde(default, deserialize_with = "any_count")]
    /// Its total users (read leniently: a master sums the classes itself).
    pub user_count: u64,
    /// Exact histograms, from a Stampede worker to a Stampede master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stampede_hdr: Option<Vec<Exact>>,
    /// Anything else in the report: what a test's `report_to_master` listeners added.
    #[serde(flatten)]
    pub extra: ParsedOptions,
}

/// The sender's Aggregated row. A master sums the entries itself, so a row it cannot read
/// is kept as sent rather than a reason to drop the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Total {
    Entry(LocustEntry),
    Unread(Value),
}

impl Report {
    /// Adds a test's own fields (`report_to_master`); one that would replace a field of
    /// the report itself is left out, with a warning.
    pub fn add_extra(&mut self, extra: Vec<(String, Value)>) {
        const OWN: [&str; 6] = [
            "stats",
            "stats_total",
            "errors",
            "user_classes_count",
            "user_count",
            "stampede_hdr",
        ];
        for (k, v) in extra {
            if OWN.contains(&k.as_str()) {
                tracing::warn!(
                    "report_to_master set '{k}', which the report itself carries: left out"
                );
            } else {
                self.extra.0.push((k, v));
            }
        }
    }
}

/// The failures of a report by key (Locust's: a hash of method, name and error).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Errors(pub Vec<(String, LocustError)>);

impl Serialize for Errors {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for Errors {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pairs: Vec<(String, LocustError)> =
            std::collections::BTreeMap::<String, LocustError>::deserialize(d)?
                .into_iter()
                .collect();
        Ok(Errors(pairs))
    }
}

/// One entry's exact histogram and Stampede's own counts, which Locust's entry lacks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exact {
    pub name: String,
    pub method: String,
    /// `[value, count, value, count, ...]` over the recorded buckets (µs).
    pub hist: Vec<u64>,
    #[serde(default)]
    pub unanswered: u64,
    #[serde(default)]
    pub unanswered_mid_body: u64,
    #[serde(default)]
    pub hops: u64,
    #[serde(default)]
    pub resent: u64,
}

/// An exception in a worker's task, for the master's Exceptions tab.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ExceptionReport {
    pub msg: String,
    pub traceback: String,
}

#[cfg(test)]
mod golden;
