//! Where finished Parquet files go: renamed into place in a folder, or uploaded to S3.
//!
//! Files are written under a temporary name (`.part-NNNNN.parquet.tmp`, beside their final name for a
//! folder; in a private spool folder for S3) and become visible only when complete: a rename for a
//! folder, a multipart upload completed only after its last part for S3. An export stopped half-way
//! leaves no half-written file under a final name.

use anyhow::Context;
use std::path::{Path, PathBuf};

/// Parts of a multipart upload (S3's minimum is 5 MiB; the last part may be smaller).
const PART_BYTES: usize = 64 << 20;

/// An export target, from `--to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A local folder.
    Dir(PathBuf),
    /// `s3://bucket/prefix`.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix, without a trailing `/` (may be empty).
        prefix: String,
    },
}

impl Target {
    /// Parses `--to`: `s3://bucket[/prefix]`, else a folder.
    pub fn parse(s: &str) -> anyhow::Result<Target> {
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                anyhow::bail!("--to {s:?}: no bucket in the s3:// URL");
            }
            return Ok(Target::S3 { bucket: bucket.to_owned(), prefix: prefix.trim_end_matches('/').to_owned() });
        }
        Ok(Target::Dir(PathBuf::from(s)))
    }

    /// How a finished file is named in the run's output (`s3://...` or a path).
    pub fn display(&self, rel: &str) -> String {
        match self {
            Target::Dir(d) => d.join(rel).display().to_string(),
            Target::S3 { bucket, prefix } if prefix.is_empty() => format!("s3://{bucket}/{rel}"),
            Target::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}/{rel}"),
        }
    }
}

/// Publishes finished files to the target.
pub struct Dest {
    target: Target,
    /// Where temporary files are written.
    staging: PathBuf,
    s3: Option<(aws_sdk_s3::Client, tokio::runtime::Handle)>,
}

impl Dest {
    /// A destination for `target`. A folder must be empty or not exist yet (files of an earlier export
    /// would otherwise mix with this one's); S3 needs a client and the runtime to drive it.
    pub fn new(target: Target, s3: Option<(aws_sdk_s3::Client, tokio::runtime::Handle)>) -> anyhow::Result<Dest> {
        let staging = match &target {
            Target::Dir(d) => {
                if let Ok(mut entries) = std::fs::read_dir(d) {
                    if entries.next().is_some() {
                        anyhow::bail!("--to {}: the folder is not empty (export into a new folder)", d.display());
                    }
                }
                std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
                d.clone()
            }
            Target::S3 { .. } => {
                if s3.is_none() {
                    anyhow::bail!("internal error: an S3 export without an S3 client");
                }
                let nanos =
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
                let dir = std::env::temp_dir().join(format!("trailhound-export-{}-{nanos}", std::process::id()));
                std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
                dir
            }
        };
        Ok(Dest { target, staging, s3 })
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The temporary path of the file that will be published as `rel`.
    pub fn temp_path(&self, rel: &str) -> PathBuf {
        let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        self.staging.join(dir).join(format!(".{name}.tmp"))
    }

    /// Makes the finished temporary file `tmp` visible as `rel`.
    pub fn publish(&self, tmp: &Path, rel: &str) -> anyhow::Result<()> {
        match (&self.target, &self.s3) {
            (Target::Dir(d), _) => {
                let to = d.join(rel);
                std::fs::rename(tmp, &to)
                    .with_context(|| format!("cannot rename {} to {}", tmp.display(), to.display()))
            }
            (Target::S3 { bucket, prefix }, Some((client, rt))) => {
                let key = if prefix.is_empty() { rel.to_owned() } else { format!("{prefix}/{rel}") };
                let res = rt.block_on(upload(client, bucket, &key, tmp));
                let _ = std::fs::remove_file(tmp);
                res.with_context(|| format!("uploading s3://{bucket}/{key}"))
            }
            (Target::S3 { .. }, None) => anyhow::bail!("internal error: an S3 export without an S3 client"),
        }
    }

    /// Removes the spool folder of an S3 export (a folder target keeps its folder).
    pub fn cleanup(&self) {
        if matches!(self.target, Target::S3 { .. }) {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

/// Uploads `path` as `key` with a multipart upload, completed only once every part is in; any failure
/// aborts the upload, so nothing appears under `key`.
async fn upload(client: &aws_sdk_s3::Client, bucket: &str, key: &str, path: &Path) -> anyhow::Result<()> {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    use tokio::io::AsyncReadExt;
    let created =
        client.create_multipart_upload().bucket(bucket).key(key).send().await.context("CreateMultipartUpload")?;
    let Some(id) = created.upload_id().map(str::to_owned) else {
        anyhow::bail!("CreateMultipartUpload returned no upload id");
    };
    let parts = async {
        let mut file = tokio::fs::File::open(path).await.with_context(|| format!("cannot open {}", path.display()))?;
        let mut parts = Vec::new();
        let mut number = 1;
        loop {
            let mut buf = Vec::with_capacity(PART_BYTES);
            let mut f = (&mut file).take(PART_BYTES as u64);
            f.read_to_end(&mut buf).await.with_context(|| format!("reading {}", path.display()))?;
            if buf.is_empty() && number > 1 {
                break;
            }
            let last = buf.len() < PART_BYTES;
            let done = client
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(&id)
                .part_number(number)
                .body(buf.into())
                .send()
                .await
                .with_context(|| format!("UploadPart {number}"))?;
            parts.push(CompletedPart::builder().part_number(number).set_e_tag(done.e_tag().map(str::to_owned)).build());
            number += 1;
            if last {
                break;
            }
        }
        client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .context("CompleteMultipartUpload")?;
        anyhow::Ok(())
    }
    .await;
    if parts.is_err() {
        let _ = client.abort_multipart_upload().bucket(bucket).key(key).upload_id(&id).send().await;
    }
    parts
}
