//! AWS adapters: SDK configuration from the shared options, and AWS errors matched by code.

use aws_config::BehaviorVersion;
use aws_sdk_iam::error::ProvideErrorMetadata;

/// How to reach AWS: what the shared AWS options say, in the library's own terms (the CLI converts
/// its arguments at the edge).
#[derive(Clone, Debug, Default)]
pub struct AwsOptions {
    /// A named profile of the AWS config files.
    pub profile: Option<String>,
    /// The region to call; else the SDK's default chain, else us-east-1.
    pub region: Option<String>,
    /// An endpoint for every service (LocalStack, moto).
    pub endpoint_url: Option<String>,
}

/// Loads the SDK configuration as the AWS CLI and SDKs would: the default credential chain;
/// `--profile`, else `AWS_PROFILE`; `--aws-region`, else `AWS_REGION`, else `AWS_DEFAULT_REGION`, else
/// the profile's region (the SDK's chain, in the CLI's order), else us-east-1.
///
/// `--endpoint-url` sends every service to one endpoint. Without it the SDK's own rules apply, so each
/// client finds its service-specific endpoint (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_IAM`,
/// `AWS_ENDPOINT_URL_STS`, or a profile's `services` section) before the general `AWS_ENDPOINT_URL`:
/// S3 and IAM can then live at different endpoints.
pub async fn config(args: &AwsOptions) -> aws_config::SdkConfig {
    use aws_config::meta::region::RegionProviderChain;
    // IAM and STS are global, but requests are still signed for a region: fall back to us-east-1.
    // The default chain reads the region of `--profile`'s profile, not of AWS_PROFILE's (the loader's
    // profile_name does not reach a region chain given to it).
    let mut default_region = aws_config::default_provider::region::DefaultRegionChain::builder();
    if let Some(p) = &args.profile {
        default_region = default_region.profile_name(p);
    }
    let region = RegionProviderChain::first_try(args.region.clone().map(aws_config::Region::new))
        .or_else(default_region.build())
        .or_else("us-east-1");
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
    if let Some(p) = &args.profile {
        loader = loader.profile_name(p);
    }
    if let Some(u) = &args.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    let cfg = loader.load().await;
    tracing::debug!(
        region = ?cfg.region(),
        endpoint_url = ?cfg.endpoint_url(),
        s3_endpoint = ?service_endpoint(&cfg, "S3"),
        iam_endpoint = ?service_endpoint(&cfg, "IAM"),
        "AWS configuration"
    );
    cfg
}

/// The endpoint a client of `service_id` (the SDK's id: `S3`, `IAM`, `STS`) built from `cfg` will call,
/// when one is configured: `--endpoint-url`, else the service-specific variable or profile setting,
/// else `AWS_ENDPOINT_URL` (the order the generated clients use).
pub fn service_endpoint(cfg: &aws_config::SdkConfig, service_id: &str) -> Option<String> {
    if cfg.get_origin("endpoint_url").is_client_config() {
        return cfg.endpoint_url().map(str::to_owned);
    }
    let key = aws_types::service_config::ServiceConfigKey::builder()
        .service_id(service_id)
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok()?;
    cfg.service_config().and_then(|c| c.load_config(key)).or_else(|| cfg.endpoint_url().map(str::to_owned))
}

/// An AWS call that failed, with the service's error code kept for matching.
#[derive(Debug, thiserror::Error)]
#[error("{operation} on {target}: {message}")]
pub struct AwsError {
    /// The API operation, e.g. `PutRolePolicy`.
    pub operation: &'static str,
    /// What it acted on: a role or user name, `role/policy`, a key id, or `sts`.
    pub target: String,
    /// The AWS error code (`NoSuchEntity`, `AccessDenied`, ...), empty for transport failures.
    pub code: String,
    /// What went wrong and what to do about it, in words, for the user.
    pub message: String,
}

/// AWS's own message for an SDK error, else the error and every source it wraps (a connection
/// refused, a timeout), so what failed is never reduced to "dispatch failure".
pub fn error_detail<E, R>(err: &aws_sdk_iam::error::SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    err.message().map(str::to_owned).unwrap_or_else(|| {
        let mut s = err.to_string();
        let mut src = std::error::Error::source(err);
        while let Some(e) = src {
            s = format!("{s}: {e}");
            src = e.source();
        }
        s
    })
}

impl AwsError {
    /// Reads the error code of an SDK error (falling back on the HTTP status, 403 or 404, when the body
    /// cannot be parsed) and words a message for it.
    pub fn from_sdk<E>(
        operation: &'static str,
        target: &str,
        err: &aws_sdk_iam::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        // Some endpoints (moto among them) wrap errors in a shape the SDK cannot read: fall back on the
        // HTTP status so a denial is still recognized as one.
        let code = match (err.code(), status) {
            (Some(c), _) => c.to_owned(),
            (None, Some(403)) => "AccessDenied".to_owned(),
            (None, Some(404)) => "NoSuchEntity".to_owned(),
            _ => String::new(),
        };
        let detail = error_detail(err);
        let message = match code.as_str() {
            "NoSuchEntity" => format!("not found ({detail})"),
            "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
                format!(
                    "access denied: the caller lacks iam:{operation} on it ({detail}); nothing was changed by this call"
                )
            }
            "InvalidClientTokenId" | "ExpiredToken" | "SignatureDoesNotMatch" => {
                format!("AWS rejected the credentials ({code}): check --profile or the environment ({detail})")
            }
            "LimitExceeded" => format!("an IAM limit was reached ({detail})"),
            "MalformedPolicyDocument" => format!("IAM refused the policy document ({detail})"),
            "" => format!("the request did not complete: {detail}"),
            _ => format!("{code}: {detail}"),
        };
        AwsError { operation, target: target.to_owned(), code, message }
    }

    /// True when the AWS error code is exactly `code`.
    pub fn is(&self, code: &str) -> bool {
        self.code == code
    }
}
