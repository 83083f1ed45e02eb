//! The borrowed record model: only the fields the pipeline reads, borrowed from the decompressed buffer.
//!
//! Everything else in a record (`tlsDetails`, most of `requestParameters`) is skipped by the parser
//! without allocation. `requestParameters`, `responseElements` and `additionalEventData` are kept as
//! raw JSON text and re-read only for the few events that need them.

use super::lenient;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

type Text<'a> = Cow<'a, str>;

/// One JSON object found in an input: a CloudTrail event, or a wrapper around events.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawRecord<'a> {
    /// `eventTime`: ISO 8601 UTC time of the call, as written by CloudTrail; empty when absent.
    #[serde(rename = "eventTime", borrow, deserialize_with = "lenient::text")]
    pub event_time: Text<'a>,
    /// `@timestamp`: the event time in exports (e.g. OpenSearch/ELK) that drop `eventTime`; used only as a fallback.
    #[serde(rename = "@timestamp", borrow, deserialize_with = "lenient::text")]
    pub at_timestamp: Text<'a>,
    /// `eventID`: CloudTrail's GUID for the event, the key for de-duplicating overlapping inputs.
    #[serde(rename = "eventID", borrow, deserialize_with = "lenient::text")]
    pub event_id: Text<'a>,
    /// `eventSource`: the service endpoint called, e.g. `sts.amazonaws.com`.
    #[serde(rename = "eventSource", borrow, deserialize_with = "lenient::text")]
    pub event_source: Text<'a>,
    /// `eventName`: the API action, e.g. `AssumeRole`.
    #[serde(rename = "eventName", borrow, deserialize_with = "lenient::text")]
    pub event_name: Text<'a>,
    /// `eventType`: `AwsApiCall`, `AwsServiceEvent`, `AwsConsoleSignIn`, ...
    #[serde(rename = "eventType", borrow, deserialize_with = "lenient::text")]
    pub event_type: Text<'a>,
    /// `awsRegion`: the region the request was made to.
    #[serde(rename = "awsRegion", borrow, deserialize_with = "lenient::text")]
    pub aws_region: Text<'a>,
    /// `recipientAccountId`: the account that received the call; preferred over `userIdentity.accountId` for
    /// the account filter, as cross-account calls are logged in the resource owner's trail.
    #[serde(rename = "recipientAccountId", borrow, deserialize_with = "lenient::text")]
    pub recipient_account_id: Text<'a>,
    /// `errorCode`: empty on success, e.g. `AccessDenied` when the call failed.
    #[serde(rename = "errorCode", borrow, deserialize_with = "lenient::text")]
    pub error_code: Text<'a>,
    /// `readOnly`: whether the call only reads; `None` when absent or not a boolean-like value.
    #[serde(rename = "readOnly", deserialize_with = "lenient::flag")]
    pub read_only: Option<bool>,
    /// `sourceIPAddress`: the caller's IP, or a service name such as `ec2.amazonaws.com` / `AWS Internal`.
    #[serde(rename = "sourceIPAddress", borrow, deserialize_with = "lenient::text")]
    pub source_ip: Text<'a>,
    /// `userAgent`: the caller's user agent (SDK, CLI, console); attacker-controlled text.
    #[serde(rename = "userAgent", borrow, deserialize_with = "lenient::text")]
    pub user_agent: Text<'a>,
    /// `vpcEndpointId`: the VPC endpoint the call came through; empty for calls over the internet.
    #[serde(rename = "vpcEndpointId", borrow, deserialize_with = "lenient::text")]
    pub vpc_endpoint_id: Text<'a>,
    /// `vpcEndpointAccountId`: the account owning that VPC endpoint; a foreign owner is a detection signal.
    #[serde(rename = "vpcEndpointAccountId", borrow, deserialize_with = "lenient::text")]
    pub vpc_endpoint_account_id: Text<'a>,
    /// `userIdentity`: who made the call; `None` when absent or not an object.
    #[serde(rename = "userIdentity", borrow, deserialize_with = "lenient::object")]
    pub user_identity: Option<RawIdentity<'a>>,
    /// `resources`: the resources CloudTrail lists for the call (data events, some management events).
    #[serde(borrow, deserialize_with = "lenient::list")]
    pub resources: Vec<RawResource<'a>>,
    /// `requestParameters`, kept as raw JSON text so that only calls that need it pay to parse it.
    #[serde(rename = "requestParameters", borrow, deserialize_with = "lenient::raw")]
    pub request_parameters: Option<&'a str>,
    /// `responseElements`, kept as raw JSON text so that only calls that need it pay to parse it.
    #[serde(rename = "responseElements", borrow, deserialize_with = "lenient::raw")]
    pub response_elements: Option<&'a str>,
    /// `additionalEventData`, kept as raw JSON text: only S3's calls are read from it
    /// (`AuthenticationMethod`, see [`RawAdditional`]).
    #[serde(rename = "additionalEventData", borrow, deserialize_with = "lenient::raw")]
    pub additional_event_data: Option<&'a str>,

    // Wrappers around events, unpacked by the decoder.
    /// `Records`: the array of events in a CloudTrail log file.
    #[serde(rename = "Records", borrow)]
    pub records: Option<&'a RawValue>,
    /// `Events`: the array of a `lookup-events` response.
    #[serde(rename = "Events", borrow)]
    pub events: Option<&'a RawValue>,
    /// `CloudTrailEvent`: one `lookup-events` entry, whose event is a JSON string holding JSON.
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

/// `userIdentity`: the principal that made a call.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawIdentity<'a> {
    /// `userIdentity.type`: `AssumedRole`, `IAMUser`, `Root`, `AWSService`, `WebIdentityUser`, ...
    #[serde(rename = "type", borrow, deserialize_with = "lenient::text")]
    pub kind: Text<'a>,
    /// `userIdentity.principalId`: e.g. `AROA...:session-name` for an assumed role.
    #[serde(rename = "principalId", borrow, deserialize_with = "lenient::text")]
    pub principal_id: Text<'a>,
    /// `userIdentity.arn`: e.g. `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    #[serde(borrow, deserialize_with = "lenient::text")]
    pub arn: Text<'a>,
    /// `userIdentity.accountId`: the account the principal belongs to.
    #[serde(rename = "accountId", borrow, deserialize_with = "lenient::text")]
    pub account_id: Text<'a>,
    /// `userIdentity.accessKeyId`: the key that signed the call; `ASIA...` keys are temporary session keys.
    #[serde(rename = "accessKeyId", borrow, deserialize_with = "lenient::text")]
    pub access_key_id: Text<'a>,
    /// `userIdentity.userName`: the IAM user name (IAM users and root only).
    #[serde(rename = "userName", borrow, deserialize_with = "lenient::text")]
    pub user_name: Text<'a>,
    /// `userIdentity.invokedBy`: the AWS service that made the call on the principal's behalf, if any.
    #[serde(rename = "invokedBy", borrow, deserialize_with = "lenient::text")]
    pub invoked_by: Text<'a>,
    /// The OIDC or SAML provider of a web identity or SAML federation (`AssumeRoleWithWebIdentity`).
    #[serde(rename = "identityProvider", borrow, deserialize_with = "lenient::text")]
    pub identity_provider: Text<'a>,
    /// `userIdentity.sessionContext`: present for temporary credentials.
    #[serde(rename = "sessionContext", borrow, deserialize_with = "lenient::object")]
    pub session_context: Option<RawSessionContext<'a>>,
}

/// `userIdentity.sessionContext`: how and when the temporary credentials were issued.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawSessionContext<'a> {
    /// `userIdentity.sessionContext.sessionIssuer`: the role (or user) that issued the session.
    #[serde(rename = "sessionIssuer", borrow, deserialize_with = "lenient::object")]
    pub session_issuer: Option<RawIssuer<'a>>,
    /// `userIdentity.sessionContext.attributes`: holds the session's `creationDate`.
    #[serde(borrow, deserialize_with = "lenient::object")]
    pub attributes: Option<RawAttributes<'a>>,
    /// `userIdentity.sessionContext.ec2RoleDelivery`: `1.0` / `2.0` (IMDS version) when the credentials
    /// come from an EC2 instance profile; a sign the key belongs to an instance.
    #[serde(rename = "ec2RoleDelivery", borrow, deserialize_with = "lenient::text")]
    pub ec2_role_delivery: Text<'a>,
    /// `userIdentity.sessionContext.sourceIdentity`: the source identity set when the role was assumed.
    #[serde(rename = "sourceIdentity", borrow, deserialize_with = "lenient::text")]
    pub source_identity: Text<'a>,
}

/// `userIdentity.sessionContext.sessionIssuer`: the principal that issued the temporary credentials.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawIssuer<'a> {
    /// `sessionIssuer.type`: `Role` for assumed roles (also `IAMUser`, `Root` for `GetSessionToken`).
    #[serde(rename = "type", borrow, deserialize_with = "lenient::text")]
    pub kind: Text<'a>,
    /// `sessionIssuer.principalId`: the role id (`AROA...`) for a role.
    #[serde(rename = "principalId", borrow, deserialize_with = "lenient::text")]
    pub principal_id: Text<'a>,
    /// `sessionIssuer.arn`: e.g. `arn:aws:iam::<account>:role/<name>`.
    #[serde(borrow, deserialize_with = "lenient::text")]
    pub arn: Text<'a>,
    /// `sessionIssuer.userName`: the role or user name.
    #[serde(rename = "userName", borrow, deserialize_with = "lenient::text")]
    pub user_name: Text<'a>,
}

/// `userIdentity.sessionContext.attributes`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawAttributes<'a> {
    /// `attributes.creationDate`: ISO 8601 UTC time the session credentials were issued.
    #[serde(rename = "creationDate", borrow, deserialize_with = "lenient::text")]
    pub creation_date: Text<'a>,
}

/// One entry of a record's `resources` array.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawResource<'a> {
    /// `resources[].ARN`: the resource's ARN.
    #[serde(rename = "ARN", borrow, deserialize_with = "lenient::text")]
    pub arn: Text<'a>,
    /// `resources[].type`: e.g. `AWS::S3::Object`.
    #[serde(rename = "type", borrow, deserialize_with = "lenient::text")]
    pub kind: Text<'a>,
    /// `resources[].accountId`: the account owning the resource.
    #[serde(rename = "accountId", borrow, deserialize_with = "lenient::text")]
    pub account_id: Text<'a>,
}

/// The part of S3's `additionalEventData` the pipeline reads.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawAdditional<'a> {
    /// `AuthenticationMethod`: `AuthHeader`, or `QueryString` for a presigned URL, whose calls come
    /// from whoever was handed the URL, not from the key's holder.
    #[serde(rename = "AuthenticationMethod", borrow, deserialize_with = "lenient::text")]
    pub auth_method: Text<'a>,
}

/// The parts of `requestParameters` the pipeline reads, for the few events that need them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawRequest<'a> {
    /// `requestParameters.roleArn` of `AssumeRole*`: the role being assumed.
    #[serde(rename = "roleArn", borrow, deserialize_with = "lenient::text")]
    pub role_arn: Text<'a>,
    /// `requestParameters.roleSessionName` of `AssumeRole*`: the session name asked for.
    #[serde(rename = "roleSessionName", borrow, deserialize_with = "lenient::text")]
    pub role_session_name: Text<'a>,
    /// `requestParameters.instanceId` (e.g. `AssociateAddress`): the EC2 instance targeted.
    #[serde(rename = "instanceId", borrow, deserialize_with = "lenient::text")]
    pub instance_id: Text<'a>,
    /// `requestParameters.publicIp` (e.g. `AssociateAddress`): the Elastic IP targeted.
    #[serde(rename = "publicIp", borrow, deserialize_with = "lenient::text")]
    pub public_ip: Text<'a>,
    /// `requestParameters.allocationId`: the Elastic IP allocation targeted.
    #[serde(rename = "allocationId", borrow, deserialize_with = "lenient::text")]
    pub allocation_id: Text<'a>,
    /// `requestParameters.roleName` of IAM role calls (e.g. `PutRolePolicy`).
    #[serde(rename = "roleName", borrow, deserialize_with = "lenient::text")]
    pub role_name: Text<'a>,
    /// `requestParameters.policyName` of IAM policy calls (e.g. `PutRolePolicy`, `DeleteRolePolicy`).
    #[serde(rename = "policyName", borrow, deserialize_with = "lenient::text")]
    pub policy_name: Text<'a>,
}

/// `requestParameters` of EC2's `TerminateInstances`: `{"instancesSet":{"items":[{"instanceId":..}]}}`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawTerminate<'a> {
    /// `instancesSet`.
    #[serde(rename = "instancesSet", borrow, deserialize_with = "lenient::object")]
    pub instances_set: Option<RawInstanceSet<'a>>,
}

/// `instancesSet` of [`RawTerminate`].
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawInstanceSet<'a> {
    /// `items`: one per instance.
    #[serde(borrow, deserialize_with = "lenient::list")]
    pub items: Vec<RawInstanceItem<'a>>,
}

/// One of [`RawInstanceSet::items`].
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawInstanceItem<'a> {
    /// `instanceId`.
    #[serde(rename = "instanceId", borrow, deserialize_with = "lenient::text")]
    pub instance_id: Text<'a>,
}

/// The parts of `responseElements` the pipeline reads (credential-minting calls).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawResponse<'a> {
    /// `responseElements.credentials` of a credential-minting call.
    #[serde(borrow, deserialize_with = "lenient::object")]
    pub credentials: Option<RawCredentials<'a>>,
    /// `responseElements.assumedRoleUser` of `AssumeRole*`.
    #[serde(rename = "assumedRoleUser", borrow, deserialize_with = "lenient::object")]
    pub assumed_role_user: Option<RawAssumedRoleUser<'a>>,
    /// `responseElements.publicIp` of `AllocateAddress`: the new Elastic IP.
    #[serde(rename = "publicIp", borrow, deserialize_with = "lenient::text")]
    pub public_ip: Text<'a>,
    /// `responseElements.allocationId` of `AllocateAddress`.
    #[serde(rename = "allocationId", borrow, deserialize_with = "lenient::text")]
    pub allocation_id: Text<'a>,
}

/// `responseElements.credentials`: the temporary credentials minted (never the secret, which
/// CloudTrail does not log).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawCredentials<'a> {
    /// `credentials.accessKeyId`: the new `ASIA...` key, linking later uses back to this call.
    #[serde(rename = "accessKeyId", borrow, deserialize_with = "lenient::text")]
    pub access_key_id: Text<'a>,
    /// `credentials.expiration`: when the minted credentials expire, as CloudTrail writes it.
    #[serde(borrow, deserialize_with = "lenient::text")]
    pub expiration: Text<'a>,
}

/// `responseElements.assumedRoleUser` of `AssumeRole*`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawAssumedRoleUser<'a> {
    /// `assumedRoleUser.assumedRoleId`: `<role id>:<session name>`, e.g. `AROA...:my-session`.
    #[serde(rename = "assumedRoleId", borrow, deserialize_with = "lenient::text")]
    pub assumed_role_id: Text<'a>,
    /// `assumedRoleUser.arn`: the assumed-role ARN of the new session.
    #[serde(borrow, deserialize_with = "lenient::text")]
    pub arn: Text<'a>,
}
