//! `--tensorboard-log true`: the run's metrics as TensorBoard event files, the format ParlAI
//! users open their runs with (ParlAI writes them to `<model-file>.tensorboard/`, tags
//! `train/<metric>` and `valid/<metric>`; so does this).
//!
//! An event file is a sequence of TFRecords — a little-endian u64 length, its masked CRC-32C,
//! the bytes, their masked CRC-32C — each holding one protobuf `Event` (TensorFlow's
//! `event.proto`): first one with `file_version` "brain.Event:2", then one per logged step with
//! a `Summary` of `simple_value` scalars. The messages are declared here with `prost` (the
//! fields TensorBoard reads, by their numbers in `event.proto` / `summary.proto`); a resumed
//! run starts a new file in the same folder, which TensorBoard reads as one run.

use prost::Message;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// `tensorflow.Event`: when, at which step, and what.
#[derive(Clone, PartialEq, prost::Message)]
struct Event {
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "1")]
    wall_time: f64,
    /// The training step.
    #[prost(int64, tag = "2")]
    step: i64,
    /// The event's content.
    #[prost(oneof = "EventKind", tags = "3, 5")]
    kind: Option<EventKind>,
}

/// `Event.what`: the file's version marker or a summary.
#[derive(Clone, PartialEq, prost::Oneof)]
enum EventKind {
    /// "brain.Event:2" in the first event of a file.
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// Scalars of one step.
    #[prost(message, tag = "5")]
    Summary(Summary),
}

/// `tensorflow.Summary`.
#[derive(Clone, PartialEq, prost::Message)]
struct Summary {
    #[prost(message, repeated, tag = "1")]
    value: Vec<SummaryValue>,
}

/// `tensorflow.Summary.Value` with a `simple_value`.
#[derive(Clone, PartialEq, prost::Message)]
struct SummaryValue {
    #[prost(string, tag = "1")]
    tag: String,
    /// In `summary.proto` a member of the `value` oneof, so written even when 0 (a plain
    /// proto3 float of 0 would be left out, and TensorBoard would drop the scalar).
    #[prost(oneof = "ValueKind", tags = "2")]
    value: Option<ValueKind>,
}

/// `Summary.Value.value`: the scalar.
#[derive(Clone, PartialEq, prost::Oneof)]
enum ValueKind {
    #[prost(float, tag = "2")]
    SimpleValue(f32),
}

/// TFRecord's checksum: CRC-32C, rotated and offset so that a CRC of CRCs is not trivially 0.
fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// One TFRecord holding `data`.
fn record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// An open event file.
pub struct TensorboardLog {
    file: std::fs::File,
    path: PathBuf,
}

impl TensorboardLog {
    /// Starts a new event file in `dir` (created if missing).
    pub fn create(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        let wall = now();
        let path =
            dir.join(format!("events.out.tfevents.{}.cringe.{}", wall as u64, std::process::id()));
        let file =
            std::fs::File::create(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let mut log = Self { file, path };
        let version = EventKind::FileVersion("brain.Event:2".into());
        log.write(&Event { wall_time: wall, step: 0, kind: Some(version) })?;
        Ok(log)
    }

    /// Writes `values` (metric name, value) at `step` under the tags `<prefix>/<name>`.
    pub fn scalars(
        &mut self,
        prefix: &str,
        step: usize,
        values: &[(String, f64)],
    ) -> anyhow::Result<()> {
        let value = values
            .iter()
            .map(|(name, v)| SummaryValue {
                tag: format!("{prefix}/{name}"),
                value: Some(ValueKind::SimpleValue(*v as f32)),
            })
            .collect();
        let kind = Some(EventKind::Summary(Summary { value }));
        self.write(&Event { wall_time: now(), step: step as i64, kind })
    }

    fn write(&mut self, event: &Event) -> anyhow::Result<()> {
        self.file
            .write_all(&record(&event.encode_to_vec()))
            .and_then(|()| self.file.flush())
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.path.display()))
    }
}

/// The numeric fields of a serialisable record (its metrics), as (name, value) pairs.
pub fn numeric_fields(record: &impl serde::Serialize) -> Vec<(String, f64)> {
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(record) else {
        return Vec::new();
    };
    map.into_iter()
        .filter_map(|(k, v)| Some((k, v.as_f64()?)))
        .filter(|(k, _)| k != "step")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads back the records of an event file, checking both checksums of each.
    fn read_records(bytes: &[u8]) -> Vec<Vec<u8>> {
        let (mut out, mut at) = (Vec::new(), 0);
        while at < bytes.len() {
            let len_bytes = &bytes[at..at + 8];
            let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
            assert_eq!(bytes[at + 8..at + 12], masked_crc(len_bytes).to_le_bytes());
            let data = &bytes[at + 12..at + 12 + len];
            assert_eq!(bytes[at + 12 + len..at + 16 + len], masked_crc(data).to_le_bytes());
            out.push(data.to_vec());
            at += 16 + len;
        }
        out
    }

    #[test]
    fn the_masked_crc_is_tfrecords() {
        // the CRC-32C check value (RFC 3720's "123456789" = 0xe3069283), masked as TFRecord's
        // `MaskedCrc` does: ((crc >> 15) | (crc << 17)) + 0xa282ead8, mod 2^32
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(masked_crc(b"123456789"), 0xc78a_b0e5);
    }

    #[test]
    fn an_event_file_holds_the_version_then_one_summary_per_call() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = TensorboardLog::create(dir.path()).unwrap();
        log.scalars("train", 10, &[("loss".into(), 2.5), ("ct_loss".into(), 0.0)]).unwrap();
        log.scalars("valid", 10, &[("ppl_pos".into(), 12.0)]).unwrap();
        let file = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
        assert!(file.file_name().unwrap().to_str().unwrap().starts_with("events.out.tfevents."));
        let events: Vec<Event> = read_records(&std::fs::read(&file).unwrap())
            .iter()
            .map(|r| Event::decode(&r[..]).unwrap())
            .collect();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].kind, Some(EventKind::FileVersion("brain.Event:2".into())));
        let Some(EventKind::Summary(s)) = &events[1].kind else { panic!("{:?}", events[1]) };
        assert_eq!(events[1].step, 10);
        assert_eq!(s.value[0].tag, "train/loss");
        assert_eq!(s.value[0].value, Some(ValueKind::SimpleValue(2.5)));
        assert_eq!(s.value[1].value, Some(ValueKind::SimpleValue(0.0)), "a zero is written");
        // and on the wire: field 2 (fixed32) with the four zero bytes
        let bytes = s.value[1].encode_to_vec();
        assert!(bytes.ends_with(&[0x15, 0, 0, 0, 0]), "{bytes:?}");
        let Some(EventKind::Summary(s)) = &events[2].kind else { panic!() };
        assert_eq!(s.value[0].tag, "valid/ppl_pos");
    }
}
