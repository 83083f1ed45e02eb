//! A batch of messages (what one receive or one Lambda invocation brings): its objects read, then
//! merged, judged and stored together by [`Consumer::commit`], in chunks, before any message of a
//! chunk is deleted.
//!
//! Judging and storing the whole state is most of an object's cost and grows with the state, so a
//! backlog (an organization trail after an outage, a consumer restarted) would fall further behind if
//! each object were judged and stored on its own. An idle queue hands over one message at a time, and
//! each object is still judged as it arrives. A chunk is bounded in objects and in time, so a slow or
//! huge batch stores its progress as it goes, and a Lambda invocation cut short by its timeout loses
//! little.

use super::process::{Consumer, ReadObject};
use std::time::{Duration, Instant};

/// A chunk is committed once it holds this many objects (a message may name many)...
const CHUNK_OBJECTS: usize = 64;
/// ...or once it has been read for this long.
const CHUNK_AGE: Duration = Duration::from_secs(20);

/// Objects read but not yet merged into the state.
pub struct Pending {
    pub(super) objects: Vec<ReadObject>,
    /// Messages whose objects are all in this chunk (or before it).
    pub(super) messages: usize,
    started: Instant,
}

impl Default for Pending {
    fn default() -> Self {
        Pending { objects: Vec::new(), messages: 0, started: Instant::now() }
    }
}

impl Pending {
    /// True when this object is in the chunk already (named twice in one batch). A chunk holds at
    /// most [`CHUNK_OBJECTS`], so a look through them is cheap.
    pub(super) fn has(&self, url: &str, etag: &str) -> bool {
        self.objects.iter().any(|o| o.url == url && o.etag == etag)
    }

    pub(super) fn push(&mut self, o: ReadObject) {
        self.objects.push(o);
    }

    fn due(&self) -> bool {
        self.objects.len() >= CHUNK_OBJECTS || self.started.elapsed() >= CHUNK_AGE
    }
}

/// One message of a batch, however it was received.
pub struct Message<'a> {
    /// The message id, for the lines on stderr.
    pub id: &'a str,
    /// Its body (an S3 notification, or not).
    pub body: &'a str,
    /// Its ApproximateReceiveCount (1 on first delivery).
    pub receives: u32,
}

/// What became of one message of a batch.
#[derive(Debug, PartialEq, Eq)]
pub enum Fate {
    /// The state recording its objects is stored: delete it.
    Delete,
    /// Keep it for a redelivery (an object not readable yet, or the state not stored): why.
    Keep(String),
    /// Not read (Ctrl-C or SIGTERM, or the Lambda invocation's time running out): hand it back.
    Unread,
}

impl Consumer {
    /// Reads `messages` in order and commits them in chunks; `received` is when the batch arrived.
    /// `stop` is asked before each message but the first: once it says so, the messages left are
    /// [`Fate::Unread`]. Returns each message's fate, in order. A message is [`Fate::Delete`] only
    /// once every one of its objects is in a stored chunk: one that names many objects may span
    /// chunks, and a chunk that fails to store keeps it (its redelivery skips what was stored).
    pub async fn drain(
        &mut self,
        messages: &[Message<'_>],
        received: Instant,
        mut stop: impl FnMut() -> bool,
    ) -> Vec<Fate> {
        let mut fates = Vec::with_capacity(messages.len());
        let mut chunk = Pending::default();
        let mut waiting = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            if i > 0 && stop() {
                break;
            }
            let mut fate = Fate::Delete;
            for obj in self.open_message(m.id, m.body) {
                if !self.read_object(&obj, m.receives, &mut chunk).await {
                    fate = Fate::Keep(format!("{} could not be read yet", obj.url()));
                    break;
                }
                if chunk.due() {
                    if let Err(why) = self.flush(std::mem::take(&mut chunk), &mut waiting, &mut fates, received).await {
                        fate = Fate::Keep(why);
                    }
                }
            }
            chunk.messages += 1;
            waiting.push(fate);
            if chunk.due() {
                let _ = self.flush(std::mem::take(&mut chunk), &mut waiting, &mut fates, received).await;
            }
        }
        let _ = self.flush(chunk, &mut waiting, &mut fates, received).await;
        fates.resize_with(messages.len(), || Fate::Unread);
        fates
    }

    /// Commits `chunk` and settles the messages waiting for it, in order.
    async fn flush(
        &mut self,
        chunk: Pending,
        waiting: &mut Vec<Fate>,
        fates: &mut Vec<Fate>,
        received: Instant,
    ) -> Result<(), String> {
        let stored = self.commit(chunk, received).await.map(drop).map_err(|e| format!("{e:#}"));
        for fate in waiting.drain(..) {
            fates.push(match (&stored, fate) {
                (Err(why), _) => Fate::Keep(why.clone()),
                (Ok(()), fate) => fate,
            });
        }
        stored
    }
}
