//! The embedded store: one redb file, one table, the state under one key with its version beside it.
//! redb's write transactions are serialized (across processes too), so the version check and the write
//! are one atomic step.

use super::{Saved, decode, encode};
use crate::respond::state::State;
use anyhow::Context;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("trailhound_respond");
const STATE: &str = "state";
const VERSION: &str = "version";

/// A redb file holding the state.
pub struct FileStore {
    db: Database,
    path: std::path::PathBuf,
}

impl FileStore {
    /// Opens the file, creating it (and nothing else) when missing.
    pub fn open(path: &std::path::Path) -> anyhow::Result<Self> {
        let db = Database::create(path).with_context(|| format!("--state {}: cannot open", path.display()))?;
        Ok(FileStore { db, path: path.to_owned() })
    }

    /// See [`super::Store::load`].
    pub fn load(&self) -> anyhow::Result<State> {
        let what = self.describe();
        let txn = self.db.begin_read().with_context(|| format!("{what}: cannot read"))?;
        let table = match txn.open_table(TABLE) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(State::default()),
            Err(e) => return Err(e).with_context(|| format!("{what}: cannot read")),
        };
        let version = stored_version(&table).with_context(|| format!("{what}: cannot read"))?;
        let Some(bytes) = table.get(STATE).with_context(|| format!("{what}: cannot read"))? else {
            return Ok(State::default());
        };
        let mut state = decode(bytes.value(), &what)?;
        state.version = version;
        Ok(state)
    }

    /// See [`super::Store::save`] (the caller bumps the version).
    pub fn save(&self, state: &State) -> anyhow::Result<Saved> {
        let what = self.describe();
        let bytes = encode(state)?;
        let txn = self.db.begin_write().with_context(|| format!("{what}: cannot write"))?;
        {
            let mut table = txn.open_table(TABLE).with_context(|| format!("{what}: cannot write"))?;
            if stored_version(&table)? != state.version {
                return Ok(Saved::Conflict);
            }
            table.insert(STATE, bytes.as_slice())?;
            table.insert(VERSION, (state.version + 1).to_be_bytes().as_slice())?;
        }
        txn.commit().with_context(|| format!("{what}: cannot commit"))?;
        Ok(Saved::Stored)
    }

    /// `file PATH`.
    pub fn describe(&self) -> String {
        format!("state file {}", self.path.display())
    }
}

fn stored_version(table: &impl ReadableTable<&'static str, &'static [u8]>) -> anyhow::Result<u64> {
    Ok(match table.get(VERSION)? {
        Some(v) => u64::from_be_bytes(v.value().try_into().context("stored version is not 8 bytes")?),
        None => 0,
    })
}
