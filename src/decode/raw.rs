//! The borrowed record model: only the fields the pipeline reads, borrowed from the decompressed buffer.
//!
//! Everything else in a record (`tlsDetails`, `additionalEventData`, most of `requestParameters`) is
//! skipped by the parser without allocation. `requestParameters` and `responseElements` are kept as raw
//! JSON text and re-read only for the few event names that need them.

use super::lenient;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

type Text<'a> = Cow<'a, str>;

/// One JSON object found in an input: a CloudTrail event, or a wrapper around events.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawRecord<'a> {
    #[serde(rename = "eventTime", borrow, deserialize_with = "lenient::text")]
    pub event_time: Text<'a>,
    #[serde(rename = "@timestamp", borrow, deserialize_with = "lenient::text")]
    pub at_timestamp: Text<'a>,
    #[serde(rename = "eventID", borrow, deserialize_with = "lenient::text")]
    pub event_id: Text<'a>,
    #[serde(rename = "eventSource", borrow, deserialize_with = "lenient::text")]
    pub event_source: Text<'a>,
    #[serde(rename = "eventName", borrow, deserialize_with = "lenient::text")]
    pub event_name: Text<'a>,
    #[serde(rename = "eventType", borrow, deserialize_with = "lenient::text")]
    pub event_type: Text<'a>,
    #[serde(rename = "awsRegion", borrow, deserialize_with = "lenient::text")]
    pub aws_region: Text<'a>,
    #[serde(rename = "recipientAccountId", borrow, deserialize_with = "lenient::text")]
    pub recipient_account_id: Text<'a>,
    #[serde(rename = "errorCode", borrow, deserialize_with = "lenient::text")]
    pub error_code: Text<'a>,
    #[serde(rename = "readOnly", deserialize_with = "lenient::flag")]
    pub read_only: Option<bool>,
    #[serde(rename = "sourceIPAddress", borrow, deserialize_with = "lenient::text")]
    pub source_ip: Text<'a>,
    #[serde(rename = "userAgent", borrow, deserialize_with = "lenient::text")]
    pub user_agent: Text<'a>,
    #[serde(rename = "vpcEndpointId", borrow, deserialize_with = "lenient::text")]
    pub vpc_endpoint_id: Text<'a>,
    #[serde(rename = "vpcEndpointAccountId", borrow, deserialize_with = "lenient::text")]
    pub vpc_endpoint_account_id: Text<'a>,
    #[serde(rename = "userIdentity", borrow, deserialize_with = "lenient::object")]
    pub user_identity: Option<RawIdentity<'a>>,
    #[serde(borrow, deserialize_with = "lenient::list")]
    pub resources: Vec<RawResource<'a>>,
    #[serde(rename = "requestParameters", borrow)]
    pub request_parameters: Option<&'a RawValue>,
    #[serde(rename = "responseElements", borrow)]
    pub response_elements: Option<&'a RawValue>,

    // Wrappers around events, unpacked by the decoder.
    #[serde(rename = "Records", borrow)]
    pub records: Option<&'a RawValue>,
    #[serde(rename = "Events", borrow)]
    pub events: Option<&'a RawValue>,
    #[serde(rename = "CloudTrailEvent", borrow)]
    pub cloudtrail_event: Option<&'a RawValue>,
    /// EventBridge's `{"detail-type": "AWS API Call via CloudTrail", "detail": {...}}`.
    #[serde(borrow)]
    pub detail: Option<&'a RawValue>,
    /// Panther's rule-test wrapper `{"log": {...}}`.
    #[serde(borrow)]
    pub log: Option<&'a RawValue>,

    /// Marks a CloudTrail digest file, which lists log files and holds no events.
    #[serde(rename = "digestStartTime", borrow, deserialize_with = "lenient::text")]
    pub digest_start_time: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawIdentity<'a> {
    #[serde(rename = "type", borrow, deserialize_with = "lenient::text")]
    pub kind: Text<'a>,
    #[serde(rename = "principalId", borrow, deserialize_with = "lenient::text")]
    pub principal_id: Text<'a>,
    #[serde(borrow, deserialize_with = "lenient::text")]
    pub arn: Text<'a>,
    #[serde(rename = "accountId", borrow, deserialize_with = "lenient::text")]
    pub account_id: Text<'a>,
    #[serde(rename = "accessKeyId", borrow, deserialize_with = "lenient::text")]
    pub access_key_id: Text<'a>,
    #[serde(rename = "userName", borrow, deserialize_with = "lenient::text")]
    pub user_name: Text<'a>,
    #[serde(rename = "invokedBy", borrow, deserialize_with = "lenient::text")]
    pub invoked_by: Text<'a>,
    /// The OIDC or SAML provider of a web identity or SAML federation (`AssumeRoleWithWebIdentity`).
    #[serde(rename = "identityProvider", borrow, deserialize_with = "lenient::text")]
    pub identity_provider: Text<'a>,
    #[serde(rename = "sessionContext", borrow, deserialize_with = "lenient::object")]
    pub session_context: Option<RawSessionContext<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawSessionContext<'a> {
    #[serde(rename = "sessionIssuer", borrow, deserialize_with = "lenient::object")]
    pub session_issuer: Option<RawIssuer<'a>>,
    #[serde(borrow, deserialize_with = "lenient::object")]
    pub attributes: Option<RawAttributes<'a>>,
    #[serde(rename = "ec2RoleDelivery", borrow, deserialize_with = "lenient::text")]
    pub ec2_role_delivery: Text<'a>,
    #[serde(rename = "sourceIdentity", borrow, deserialize_with = "lenient::text")]
    pub source_identity: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawIssuer<'a> {
    #[serde(rename = "type", borrow, deserialize_with = "lenient::text")]
    pub kind: Text<'a>,
    #[serde(rename = "principalId", borrow, deserialize_with = "lenient::text")]
    pub principal_id: Text<'a>,
    #[serde(borrow, deserialize_with = "lenient::text")]
    pub arn: Text<'a>,
    #[serde(rename = "userName", borrow, deserialize_with = "lenient::text")]
    pub user_name: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawAttributes<'a> {
    #[serde(rename = "creationDate", borrow, deserialize_with = "lenient::text")]
    pub creation_date: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawResource<'a> {
    #[serde(rename = "ARN", borrow, deserialize_with = "lenient::text")]
    pub arn: Text<'a>,
    #[serde(rename = "type", borrow, deserialize_with = "lenient::text")]
    pub kind: Text<'a>,
    #[serde(rename = "accountId", borrow, deserialize_with = "lenient::text")]
    pub account_id: Text<'a>,
}

/// The parts of `requestParameters` the pipeline reads, for the few events that need them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawRequest<'a> {
    #[serde(rename = "roleArn", borrow, deserialize_with = "lenient::text")]
    pub role_arn: Text<'a>,
    #[serde(rename = "roleSessionName", borrow, deserialize_with = "lenient::text")]
    pub role_session_name: Text<'a>,
    #[serde(rename = "instanceId", borrow, deserialize_with = "lenient::text")]
    pub instance_id: Text<'a>,
    #[serde(rename = "publicIp", borrow, deserialize_with = "lenient::text")]
    pub public_ip: Text<'a>,
    #[serde(rename = "allocationId", borrow, deserialize_with = "lenient::text")]
    pub allocation_id: Text<'a>,
    #[serde(rename = "roleName", borrow, deserialize_with = "lenient::text")]
    pub role_name: Text<'a>,
    #[serde(rename = "policyName", borrow, deserialize_with = "lenient::text")]
    pub policy_name: Text<'a>,
}

/// The parts of `responseElements` the pipeline reads (credential-minting calls).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawResponse<'a> {
    #[serde(borrow, deserialize_with = "lenient::object")]
    pub credentials: Option<RawCredentials<'a>>,
    #[serde(rename = "assumedRoleUser", borrow, deserialize_with = "lenient::object")]
    pub assumed_role_user: Option<RawAssumedRoleUser<'a>>,
    #[serde(rename = "publicIp", borrow, deserialize_with = "lenient::text")]
    pub public_ip: Text<'a>,
    #[serde(rename = "allocationId", borrow, deserialize_with = "lenient::text")]
    pub allocation_id: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawCredentials<'a> {
    #[serde(rename = "accessKeyId", borrow, deserialize_with = "lenient::text")]
    pub access_key_id: Text<'a>,
    #[serde(borrow, deserialize_with = "lenient::text")]
    pub expiration: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawAssumedRoleUser<'a> {
    #[serde(rename = "assumedRoleId", borrow, deserialize_with = "lenient::text")]
    pub assumed_role_id: Text<'a>,
    #[serde(borrow, deserialize_with = "lenient::text")]
    pub arn: Text<'a>,
}
