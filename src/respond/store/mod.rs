//! Where the consumer keeps its state between objects: an embedded redb file by default, a DynamoDB
//! table (`dynamodb://TABLE`) for several consumers and for Lambda.
//!
//! Both stores save conditionally: a save names the version it was computed from and fails with
//! [`Saved::Conflict`] when another consumer saved in between; the caller then reloads and re-applies
//! its object (see `respond::process`). The state is stored as gzipped JSON.

mod dynamo;
mod file;

pub use dynamo::DynamoStore;
pub use file::FileStore;

use super::state::State;
use anyhow::Context;
use std::io::{Read, Write};

/// The outcome of a conditional save.
#[derive(Debug, PartialEq, Eq)]
pub enum Saved {
    /// Stored; the state's version was bumped.
    Stored,
    /// Another consumer stored a newer version first: nothing was written.
    Conflict,
}

/// A state store chosen by `--state`.
pub enum Store {
    /// An embedded redb file.
    File(FileStore),
    /// A DynamoDB table.
    Dynamo(DynamoStore),
}

/// What `--state` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateLocation {
    /// A redb file (created when missing).
    File(std::path::PathBuf),
    /// `dynamodb://TABLE`.
    Dynamo(String),
}

impl StateLocation {
    /// `dynamodb://TABLE` or a file path.
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        match s.strip_prefix("dynamodb://") {
            Some("") => anyhow::bail!("--state {s:?}: no table name after dynamodb://"),
            Some(t) if t.contains('/') => anyhow::bail!("--state {s:?}: a table name has no '/'"),
            Some(t) => Ok(StateLocation::Dynamo(t.to_owned())),
            None if s.is_empty() => anyhow::bail!("--state: empty path"),
            None => Ok(StateLocation::File(s.into())),
        }
    }
}

impl Store {
    /// Opens the store (the redb file is created when missing; the table must exist).
    pub async fn open(loc: &StateLocation, aws: &aws_config::SdkConfig) -> anyhow::Result<Self> {
        Ok(match loc {
            StateLocation::File(p) => Store::File(FileStore::open(p)?),
            StateLocation::Dynamo(t) => Store::Dynamo(DynamoStore::open(aws, t).await?),
        })
    }

    /// The stored state, or an empty one (version 0) when nothing was stored yet.
    pub async fn load(&self) -> anyhow::Result<State> {
        match self {
            Store::File(f) => f.load(),
            Store::Dynamo(d) => d.load().await,
        }
    }

    /// Stores `state` if the stored version is still `state.version`; bumps `state.version` when stored.
    pub async fn save(&self, state: &mut State) -> anyhow::Result<Saved> {
        let saved = match self {
            Store::File(f) => f.save(state)?,
            Store::Dynamo(d) => d.save(state).await?,
        };
        if saved == Saved::Stored {
            state.version += 1;
        }
        Ok(saved)
    }

    /// Where the state lives, for messages.
    pub fn describe(&self) -> String {
        match self {
            Store::File(f) => f.describe(),
            Store::Dynamo(d) => d.describe(),
        }
    }
}

/// The state as stored: gzipped JSON.
pub(crate) fn encode(state: &State) -> anyhow::Result<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    serde_json::to_writer(&mut gz, state).context("serializing the state")?;
    gz.flush()?;
    Ok(gz.finish()?)
}

/// The most a stored state may decompress to: the state is bounded by expiry, and a file someone
/// swapped must not exhaust memory.
const MAX_STATE_BYTES: u64 = 2 << 30;

pub(crate) fn decode(bytes: &[u8], what: &str) -> anyhow::Result<State> {
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_STATE_BYTES + 1)
        .read_to_end(&mut text)
        .with_context(|| format!("{what}: the stored state is not gzip"))?;
    if text.len() as u64 > MAX_STATE_BYTES {
        anyhow::bail!("{what}: the stored state is larger than 2 GiB decompressed");
    }
    serde_json::from_slice(&text).with_context(|| format!("{what}: the stored state does not parse"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_location_parse() {
        assert_eq!(StateLocation::parse("dynamodb://t").unwrap(), StateLocation::Dynamo("t".into()));
        assert_eq!(StateLocation::parse("a/b.redb").unwrap(), StateLocation::File("a/b.redb".into()));
        assert!(StateLocation::parse("dynamodb://").is_err());
        assert!(StateLocation::parse("dynamodb://a/b").is_err());
    }

    #[test]
    fn file_store_is_conditional() {
        let dir = tempfile::tempdir().unwrap();
        let f = FileStore::open(&dir.path().join("s.redb")).unwrap();
        let mut a = f.load().unwrap();
        assert_eq!(a.version, 0);
        let mut b = a.clone();
        a.clock_ms = 5;
        assert_eq!(f.save(&a).unwrap(), Saved::Stored);
        a.version += 1;
        // b was computed from version 0: refused.
        b.clock_ms = 7;
        assert_eq!(f.save(&b).unwrap(), Saved::Conflict);
        let back = f.load().unwrap();
        assert_eq!((back.version, back.clock_ms), (1, 5));
        assert_eq!(f.save(&a).unwrap(), Saved::Stored);
    }

    #[test]
    fn corrupt_state_is_an_error() {
        assert!(decode(b"not gzip", "x").unwrap_err().to_string().contains("not gzip"));
    }
}
