//! The shared store: a DynamoDB table with a string partition key `pk` and TTL on the attribute `ttl`.
//!
//! The gzipped state is cut into chunks under the 400 KB item limit, written first under the new
//! version's keys (`state#v<N>#<i>`); then the head item (`pk = state`) is switched to the new version
//! with a conditional write on the old one, so readers see either the old state or the new one whole.
//! A consumer that lost the race deletes its chunks and reloads. Superseded chunks are deleted after
//! the switch; any left behind by a crash expire through TTL.

use super::{Saved, decode, encode};
use crate::respond::state::State;
use anyhow::Context;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// Under DynamoDB's 400 KB item limit, with room for the key and attributes.
const CHUNK: usize = 350_000;
/// Items live this long after their last write (TTL): longer than any SQS message's retention
/// (14 days at most), so a redelivered message still finds its object recorded as processed.
const TTL_SECS: i64 = 15 * 24 * 3600;
const HEAD: &str = "state";

/// A DynamoDB table holding the state.
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn av_n(n: impl ToString) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn num(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> anyhow::Result<u64> {
    let v = item.get(name).and_then(|v| v.as_n().ok()).with_context(|| format!("head item without {name}"))?;
    v.parse().with_context(|| format!("head item's {name} is not a number"))
}

impl DynamoStore {
    /// Checks that the table exists and is reachable.
    pub async fn open(aws: &aws_config::SdkConfig, table: &str) -> anyhow::Result<Self> {
        let client = Client::new(aws);
        client.describe_table().table_name(table).send().await.map_err(|e| {
            anyhow::anyhow!("--state dynamodb://{table}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e))
        })?;
        Ok(DynamoStore { client, table: table.to_owned() })
    }

    /// Chunks are named by version and by writer: two consumers racing to write the same next version
    /// must not overwrite each other's chunks (the loser deletes its own).
    fn chunk_key(version: u64, writer: &str, i: u64) -> String {
        format!("{HEAD}#v{version}#{writer}#{i}")
    }

    fn writer_id() -> String {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        format!("{:x}-{:x}-{:x}", std::process::id(), nanos, N.fetch_add(1, Ordering::Relaxed))
    }

    /// See [`super::Store::load`].
    pub async fn load(&self) -> anyhow::Result<State> {
        // A concurrent save may delete the chunks of the version just read: read again.
        for _ in 0..5 {
            if let Some(s) = self.load_once().await? {
                return Ok(s);
            }
        }
        anyhow::bail!("{}: the state kept changing while it was read", self.describe())
    }

    /// The head item (version, chunk count, writer), read consistently; `None` before the first save.
    async fn head(&self) -> anyhow::Result<Option<HashMap<String, AttributeValue>>> {
        let what = self.describe();
        let head = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(HEAD.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{what}: GetItem: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)))?;
        Ok(head.item)
    }

    async fn load_once(&self) -> anyhow::Result<Option<State>> {
        let what = self.describe();
        let Some(item) = self.head().await? else { return Ok(Some(State::default())) };
        let version = num(&item, "version")?;
        let chunks = num(&item, "chunks")?;
        let writer = item.get("writer").and_then(|v| v.as_s().ok()).context("head item without writer")?;
        let mut bytes = Vec::new();
        for i in 0..chunks {
            let got = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(Self::chunk_key(version, writer, i)))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!("{what}: GetItem chunk: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e))
                })?;
            let Some(data) = got.item.as_ref().and_then(|it| it.get("data")).and_then(|d| d.as_b().ok()) else {
                return Ok(None);
            };
            bytes.extend_from_slice(data.as_ref());
        }
        let mut state = decode(&bytes, &what)?;
        state.version = version;
        Ok(Some(state))
    }

    /// See [`super::Store::save`] (the caller bumps the version).
    pub async fn save(&self, state: &State) -> anyhow::Result<Saved> {
        let what = self.describe();
        let bytes = encode(state)?;
        let next = state.version + 1;
        let writer = Self::writer_id();
        let ttl = chrono::Utc::now().timestamp() + TTL_SECS;
        let parts: Vec<&[u8]> = if bytes.is_empty() { vec![&[][..]] } else { bytes.chunks(CHUNK).collect() };
        for (i, part) in parts.iter().enumerate() {
            self.client
                .put_item()
                .table_name(&self.table)
                .item("pk", AttributeValue::S(Self::chunk_key(next, &writer, i as u64)))
                .item("data", AttributeValue::B(Blob::new(*part)))
                .item("ttl", av_n(ttl))
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!("{what}: PutItem chunk: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e))
                })?;
        }
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(HEAD.into()))
            .item("version", av_n(next))
            .item("chunks", av_n(parts.len()))
            .item("writer", AttributeValue::S(writer.clone()))
            .item("bytes", av_n(bytes.len()))
            .item("ttl", av_n(ttl));
        let previous = if state.version == 0 { None } else { self.head_writer().await };
        put = if state.version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :v").expression_attribute_values(":v", av_n(state.version))
        };
        match put.send().await {
            Ok(_) => {
                if let Some(w) = previous {
                    // The previous version's chunks: how many is unknown here, so delete until one is missing.
                    self.delete_chunks(state.version, &w).await;
                }
                Ok(Saved::Stored)
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                self.delete_chunks(next, &writer).await;
                Ok(Saved::Conflict)
            }
            Err(e) => {
                Err(anyhow::anyhow!("{what}: PutItem state: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)))
            }
        }
    }

    /// The writer of the stored version (to delete its chunks once superseded).
    async fn head_writer(&self) -> Option<String> {
        self.head().await.ok()??.get("writer").and_then(|v| v.as_s().ok()).cloned()
    }

    /// Best effort: what is left expires through TTL.
    async fn delete_chunks(&self, version: u64, writer: &str) {
        for i in 0.. {
            let r = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(Self::chunk_key(version, writer, i)))
                .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
                .send()
                .await;
            match r {
                Ok(out) if out.attributes.is_some() => {}
                _ => break,
            }
        }
    }

    /// `DynamoDB table NAME`.
    pub fn describe(&self) -> String {
        format!("state table dynamodb://{}", self.table)
    }
}
