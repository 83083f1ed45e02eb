//! `s3://bucket/prefix` inputs: listed along CloudTrail's layout so that account, region and date
//! filters prune whole prefixes and key ranges before anything is fetched, then fetched concurrently
//! ahead of the decoders with bounded memory.

mod fetch;
mod list;

pub use fetch::{Prefetcher, get_object};

use aws_sdk_s3::error::ProvideErrorMetadata;

/// `s3://bucket/prefix` -> `(bucket, prefix)`.
pub fn parse_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_owned(), prefix.to_owned()))
}

pub(crate) fn s3_error<E: ProvideErrorMetadata>(
    op: &str,
    what: &str,
    err: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> String
where
    E: std::error::Error + 'static,
{
    // S3 answers HEAD-like denials with a bare 403 and no error body: use the status when there is no code.
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().or(match status {
        Some(403) => Some("AccessDenied"),
        Some(404) => Some("NoSuchKey"),
        _ => None,
    });
    let msg = err.message();
    let fallback = {
        let mut s = err.to_string();
        let mut src = std::error::Error::source(err);
        while let Some(e) = src {
            s = format!("{s}: {e}");
            src = e.source();
        }
        s
    };
    match code {
        Some("AccessDenied") => format!("{op} {what}: access denied (check s3:{op} on it, and the bucket policy)"),
        Some("NoSuchKey") => format!("{op} {what}: the object was deleted after it was listed"),
        Some("NoSuchBucket") => format!("{op} {what}: no such bucket"),
        Some(c) => format!("{op} {what}: {c}: {}", msg.unwrap_or("")),
        None => format!("{op} {what}: {fallback}"),
    }
}

/// S3 access for listing trail buckets.
pub struct S3Source {
    /// The S3 client, with the retry and addressing settings set by [`S3Source::new`].
    pub client: aws_sdk_s3::Client,
}

impl S3Source {
    /// A client from the SDK configuration: path-style addressing when an endpoint is set (moto,
    /// LocalStack), standard retries up to 8 attempts.
    pub fn new(cfg: &aws_config::SdkConfig) -> Self {
        let conf = aws_sdk_s3::config::Builder::from(cfg)
            // moto and LocalStack serve buckets as paths; real S3 accepts both.
            .force_path_style(crate::aws::service_endpoint(cfg, "S3").is_some())
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(8))
            .build();
        S3Source { client: aws_sdk_s3::Client::from_conf(conf) }
    }
}
