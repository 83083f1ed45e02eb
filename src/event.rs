//! The normalized event, stored compactly.
//!
//! Decoding copies the fields the pipeline needs out of each record into one string arena per batch,
//! with fixed-size spans per event: a few allocations per batch instead of a dozen per event, and the
//! decompressed buffer can be reused as soon as its file is parsed. [`Event`] is a borrowed view.

use serde::ser::{Serialize, SerializeMap, Serializer};

macro_rules! fields {
    ($($(#[doc = $doc:literal])* $variant:ident => $name:literal, $accessor:ident;)*) => {
        /// The text fields of a normalized event.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        pub enum Field { $($(#[doc = $doc])* $variant),* }

        impl Field {
            /// Every field, in output order.
            pub const ALL: &'static [Field] = &[$(Field::$variant),*];
            /// The stable output name (JSON key, CSV column).
            pub fn name(self) -> &'static str {
                match self { $(Field::$variant => $name),* }
            }
        }

        impl<'a> Event<'a> {
            $(
                $(#[doc = $doc])*
                #[doc = ""]
                #[doc = "Empty when the record does not have it."]
                #[inline]
                pub fn $accessor(&self) -> &'a str { self.get(Field::$variant) }
            )*
        }
    };
}

fields! {
    /// `eventID`: the event's GUID.
    EventId => "event_id", event_id;
    /// `recipientAccountId`, else `userIdentity.accountId`: the account the event belongs to.
    AccountId => "account_id", account_id;
    /// `awsRegion`.
    Region => "region", region;
    /// `eventSource`: the service endpoint, e.g. `sts.amazonaws.com`.
    EventSource => "event_source", event_source;
    /// `eventName`: the API action, e.g. `AssumeRole`.
    EventName => "event_name", event_name;
    /// `eventType`: `AwsApiCall`, `AwsServiceEvent`, `AwsConsoleSignIn`...
    EventType => "event_type", event_type;
    /// `errorCode`: empty when the call succeeded.
    ErrorCode => "error_code", error_code;
    /// `userIdentity.type`: `AssumedRole`, `IAMUser`, `Root`, `AWSService`...
    PrincipalType => "principal_type", principal_type;
    /// `userIdentity.principalId`, e.g. `AROA...:session-name`.
    PrincipalId => "principal_id", principal_id;
    /// `userIdentity.arn`.
    PrincipalArn => "principal_arn", principal_arn;
    /// `userIdentity.userName` (IAM users and root).
    UserName => "user_name", user_name;
    /// `userIdentity.sessionContext.sessionIssuer.arn`, only when the issuer is a role.
    RoleArn => "role_arn", role_arn;
    /// `userIdentity.sessionContext.sessionIssuer.principalId` (`AROA...`), only when the issuer is a role:
    /// what `aws:userid` in a revocation policy matches.
    RoleId => "role_id", role_id;
    /// The session name: the last part of an `assumed-role` ARN, else what follows `:` in
    /// `userIdentity.principalId`.
    SessionName => "session_name", session_name;
    /// `userIdentity.accessKeyId`: the key that signed the call (`ASIA...` for session keys).
    AccessKeyId => "access_key_id", access_key_id;
    /// `userIdentity.sessionContext.ec2RoleDelivery`: `1.0` or `2.0` (IMDS version) for
    /// instance-profile credentials.
    Ec2RoleDelivery => "ec2_role_delivery", ec2_role_delivery;
    /// `sourceIPAddress`: an IP, or a service name (`ec2.amazonaws.com`, `AWS Internal`).
    SourceIp => "source_ip", source_ip;
    /// `userAgent` (attacker-controlled).
    UserAgent => "user_agent", user_agent;
    /// `vpcEndpointId`: set when the call came through a VPC endpoint.
    VpcEndpointId => "vpc_endpoint_id", vpc_endpoint_id;
    /// `vpcEndpointAccountId`: the account owning that endpoint.
    VpcEndpointAccountId => "vpc_endpoint_account_id", vpc_endpoint_account_id;
    /// `userIdentity.identityProvider`: the OIDC or SAML provider of a federated caller.
    IdentityProvider => "identity_provider", identity_provider;
    /// `userIdentity.invokedBy`: the AWS service that made the call for the principal.
    InvokedBy => "invoked_by", invoked_by;
    /// `additionalEventData.AuthenticationMethod` of S3 calls: `AuthHeader`, or `QueryString` for a
    /// presigned URL, whose calls come from whoever was handed the URL.
    AuthMethod => "auth_method", auth_method;
    /// `responseElements.credentials.accessKeyId` of a minting call (`AssumeRole*`,
    /// `GetSessionToken`, `GetFederationToken`, `AssumeRoot`): the session key it made.
    MintedKey => "minted_access_key_id", minted_key;
    /// `requestParameters.roleArn` of a minting call: the role assumed.
    MintedRoleArn => "minted_role_arn", minted_role_arn;
    /// The role id (`AROA...`) from `responseElements.assumedRoleUser.assumedRoleId`.
    MintedRoleId => "minted_role_id", minted_role_id;
    /// `requestParameters.roleSessionName` of a minting call, else the session part of
    /// `responseElements.assumedRoleUser.assumedRoleId`.
    MintedSessionName => "minted_session_name", minted_session_name;
    /// `responseElements.accessKey.accessKeyId` of a successful `CreateAccessKey`: a new long-term key.
    CreatedKey => "created_access_key_id", created_key;
    /// `requestParameters.instanceId` (`AssociateAddress`, `AssociateIamInstanceProfile`...); for
    /// `TerminateInstances`, every instance of `requestParameters.instancesSet.items`, space-separated.
    TargetInstanceId => "target_instance_id", target_instance_id;
    /// `requestParameters.publicIp`, else `responseElements.publicIp`: an Elastic IP being
    /// allocated or associated.
    TargetPublicIp => "target_public_ip", target_public_ip;
    /// `requestParameters.allocationId`, else `responseElements.allocationId`: an Elastic IP allocation.
    AllocationId => "allocation_id", allocation_id;
    /// `requestParameters.roleName` of `PutRolePolicy` / `DeleteRolePolicy`.
    TargetRoleName => "target_role_name", target_role_name;
    /// `requestParameters.policyName` of `PutRolePolicy` / `DeleteRolePolicy`: how
    /// revocations show up in the logs.
    TargetPolicyName => "target_policy_name", target_policy_name;
    /// `requestParameters` as JSON text (secrets scrubbed, at most 16 KiB), kept only for the
    /// keys a blast-radius report follows.
    RequestParameters => "request_parameters", request_parameters;
    /// `responseElements` as JSON text (secrets scrubbed, at most 16 KiB), kept only for the
    /// keys a blast-radius report follows.
    ResponseElements => "response_elements", response_elements;
}

const NFIELDS: usize = Field::ALL.len();

/// Position of a string in a batch's arena.
#[derive(Clone, Copy, Default, Debug)]
struct Span {
    start: u32,
    len: u32,
}

/// Numbers and spans of one event; its strings live in the owning [`Batch`].
#[derive(Clone, Debug)]
pub struct CompactEvent {
    /// `eventTime` (or Logstash `@timestamp`) in epoch milliseconds; `None` when missing or unreadable.
    pub time_ms: Option<i64>,
    /// `sessionContext.attributes.creationDate`: what `aws:TokenIssueTime` compares.
    pub issued_ms: Option<i64>,
    /// `readOnly`; `None` when the record does not say.
    pub read_only: Option<bool>,
    /// The key under which duplicates are recognized (from `eventID`); `None` when the record has none.
    pub dedup_key: Option<u128>,
    /// `dedup_key` is the bits of a lower-case UUID (the form the detector keeps as bytes).
    pub lower_uuid: bool,
    /// Hash of where and how the key was used (source address, VPC endpoint, user agent, region),
    /// computed by the decode workers so the single-threaded detector compares one number.
    pub use_hash: u64,
    spans: [Span; NFIELDS],
    resources_start: u32,
    resources_len: u32,
}

impl CompactEvent {
    /// An event with no field set, whose resources (none yet) start at `resources_start`.
    fn blank(resources_start: u32) -> CompactEvent {
        CompactEvent {
            time_ms: None,
            issued_ms: None,
            read_only: None,
            dedup_key: None,
            lower_uuid: false,
            use_hash: 0,
            spans: [Span::default(); NFIELDS],
            resources_start,
            resources_len: 0,
        }
    }
}

/// A resource named by an event (`resources[]`).
#[derive(Clone, Copy, Debug)]
pub struct Resource<'a> {
    /// `resources[].ARN`.
    pub arn: &'a str,
    /// `resources[].type`, e.g. `AWS::S3::Object`.
    pub kind: &'a str,
    /// `resources[].accountId`.
    pub account_id: &'a str,
}

/// Events of one input (or one part of a large input), in input order.
#[derive(Default, Debug)]
pub struct Batch {
    arena: String,
    events: Vec<CompactEvent>,
    resources: Vec<[Span; 3]>,
}

/// Fills one event's fields; dropped without [`EventBuilder::finish`] it leaves the batch unchanged.
pub struct EventBuilder<'b> {
    batch: &'b mut Batch,
    arena_mark: usize,
    res_mark: usize,
    ev: CompactEvent,
}

impl EventBuilder<'_> {
    /// Stores `value` for `field`; an empty value leaves the field empty without using arena space.
    #[inline]
    pub fn set(&mut self, field: Field, value: &str) {
        if value.is_empty() {
            return;
        }
        self.ev.spans[field as usize] = self.push(value);
    }

    /// Appends `value` to the arena and returns where it lies: the only way spans are made, which
    /// is what lets [`Event::get`] trust them.
    fn push(&mut self, value: &str) -> Span {
        let start = self.batch.arena.len();
        // Spans are 32-bit: a batch is handed on at FLUSH_BYTES, so only one record holding
        // gigabytes of strings could get here (its input is then reported as not read, like any
        // other decoding failure).
        assert!(start + value.len() <= u32::MAX as usize, "one record holds more than 4 GiB of strings");
        self.batch.arena.push_str(value);
        Span { start: start as u32, len: value.len() as u32 }
    }

    /// Sets the event time, the session issue time (both epoch milliseconds) and `readOnly`.
    pub fn time(&mut self, time_ms: Option<i64>, issued_ms: Option<i64>, read_only: Option<bool>) {
        self.ev.time_ms = time_ms;
        self.ev.issued_ms = issued_ms;
        self.ev.read_only = read_only;
    }

    /// Sets the de-duplication key (see [`CompactEvent::dedup_key`]).
    pub fn dedup_key(&mut self, key: Option<u128>) {
        self.ev.dedup_key = key;
    }

    /// Marks the de-duplication key as the bits of a lower-case UUID ([`CompactEvent::lower_uuid`]).
    pub fn lower_uuid(&mut self, lower: bool) {
        self.ev.lower_uuid = lower;
    }

    /// Sets the use hash (see [`CompactEvent::use_hash`]).
    pub fn use_hash(&mut self, h: u64) {
        self.ev.use_hash = h;
    }

    /// Adds one `resources[]` entry to the event.
    pub fn resource(&mut self, arn: &str, kind: &str, account_id: &str) {
        let mut spans = [Span::default(); 3];
        for (slot, v) in spans.iter_mut().zip([arn, kind, account_id]) {
            *slot = self.push(v);
        }
        self.batch.resources.push(spans);
        self.ev.resources_len += 1;
    }

    /// Reads back a field set earlier on this builder.
    pub fn peek(&self, field: Field) -> &str {
        let s = self.ev.spans[field as usize];
        &self.batch.arena[s.start as usize..(s.start + s.len) as usize]
    }

    /// Commits the event to the batch.
    pub fn finish(mut self) {
        let ev = std::mem::replace(&mut self.ev, CompactEvent::blank(0));
        self.batch.events.push(ev);
        // Mark as committed so Drop keeps the strings.
        self.arena_mark = usize::MAX;
    }
}

impl Drop for EventBuilder<'_> {
    fn drop(&mut self) {
        if self.arena_mark != usize::MAX {
            self.batch.arena.truncate(self.arena_mark);
            self.batch.resources.truncate(self.res_mark);
        }
    }
}

impl Batch {
    /// Arena size after which a batch is handed on, so one huge input cannot hold everything at once
    /// and spans stay far from `u32::MAX`.
    pub const FLUSH_BYTES: usize = 64 << 20;

    /// Starts a new event at the end of the batch.
    pub fn begin(&mut self) -> EventBuilder<'_> {
        let arena_mark = self.arena.len();
        let res_mark = self.resources.len();
        let resources_start = res_mark as u32;
        EventBuilder { batch: self, arena_mark, res_mark, ev: CompactEvent::blank(resources_start) }
    }

    /// Makes room for at least `arena` bytes of strings and `events` events.
    pub fn reserve(&mut self, arena: usize, events: usize) {
        self.arena.reserve(arena.saturating_sub(self.arena.len()));
        self.events.reserve(events.saturating_sub(self.events.len()));
    }

    /// Empties the batch, keeping its allocations for reuse.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.events.clear();
        self.resources.clear();
    }

    /// True when the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Bytes of strings held, compared with [`Batch::FLUSH_BYTES`] to decide when to hand the batch on.
    pub fn arena_bytes(&self) -> usize {
        self.arena.len()
    }

    /// The `i`-th event; panics when `i` is out of range, like slice indexing.
    pub fn get(&self, i: usize) -> Event<'_> {
        Event { batch: self, ev: &self.events[i] }
    }

    /// The events in input order.
    pub fn iter(&self) -> impl Iterator<Item = Event<'_>> {
        self.events.iter().map(move |ev| Event { batch: self, ev })
    }
}

/// A borrowed view of one normalized event.
#[derive(Clone, Copy)]
pub struct Event<'a> {
    batch: &'a Batch,
    ev: &'a CompactEvent,
}

impl<'a> Event<'a> {
    /// The text of `field`; empty when the record did not have it.
    #[inline]
    pub fn get(&self, field: Field) -> &'a str {
        let s = self.ev.spans[field as usize];
        let (start, end) = (s.start as usize, s.start as usize + s.len as usize);
        assert!(end <= self.batch.arena.len());
        // SAFETY: spans are made only by `EventBuilder::push`, around a `push_str` into this batch's
        // arena (or are the empty default), so they lie on character boundaries, and the arena only
        // grows while its events live (an unfinished event's strings are cut off with the event;
        // `clear` empties both). Checking the boundaries here would read the arena at both ends of
        // every field a consumer asks for, which on the detector's turn means cache misses for
        // strings it never looks at.
        unsafe { self.batch.arena.get_unchecked(start..end) }
    }

    /// `eventTime` in epoch milliseconds; `None` when missing or unreadable.
    pub fn time_ms(&self) -> Option<i64> {
        self.ev.time_ms
    }

    /// `userIdentity.sessionContext.attributes.creationDate` in epoch milliseconds: when the session was issued.
    pub fn issued_ms(&self) -> Option<i64> {
        self.ev.issued_ms
    }

    /// `readOnly`; `None` when the record does not say.
    pub fn read_only(&self) -> Option<bool> {
        self.ev.read_only
    }

    /// The de-duplication key derived from `eventID`; `None` when the record has none.
    pub fn dedup_key(&self) -> Option<u128> {
        self.ev.dedup_key
    }

    /// `eventID`'s bits when it is a lower-case UUID, parsed once by the decoder: the detector keeps
    /// event ids of that form as bytes.
    #[inline]
    pub fn lower_uuid(&self) -> Option<u128> {
        self.ev.dedup_key.filter(|_| self.ev.lower_uuid)
    }

    /// Hash of source address, VPC endpoint, user agent and region; 0 unless the key is a session key.
    pub fn use_hash(&self) -> u64 {
        self.ev.use_hash
    }

    /// The event's `resources[]` entries.
    pub fn resources(&self) -> impl Iterator<Item = Resource<'a>> + 'a {
        let batch = self.batch;
        let (start, len) = (self.ev.resources_start as usize, self.ev.resources_len as usize);
        batch.resources[start..start + len].iter().map(move |spans| {
            let s = |sp: Span| &batch.arena[sp.start as usize..(sp.start + sp.len) as usize];
            Resource { arn: s(spans[0]), kind: s(spans[1]), account_id: s(spans[2]) }
        })
    }

    /// True for temporary credentials (`ASIA...`), whose use detection follows.
    pub fn is_temporary_key(&self) -> bool {
        self.access_key_id().starts_with("ASIA")
    }
}

/// `--dump-events` form: stable names, empty fields left out, times as RFC 3339.
impl Serialize for Event<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(t) = self.time_ms() {
            m.serialize_entry("event_time", &crate::time::format_ms(t))?;
        }
        for &f in Field::ALL {
            let v = self.get(f);
            if !v.is_empty() {
                m.serialize_entry(f.name(), v)?;
            }
        }
        if let Some(t) = self.issued_ms() {
            m.serialize_entry("session_issued_at", &crate::time::format_ms(t))?;
        }
        if let Some(r) = self.read_only() {
            m.serialize_entry("read_only", &r)?;
        }
        let res: Vec<_> = self.resources().collect();
        if !res.is_empty() {
            struct R<'x>(Resource<'x>);
            impl Serialize for R<'_> {
                fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    let mut m = s.serialize_map(Some(3))?;
                    m.serialize_entry("arn", self.0.arn)?;
                    m.serialize_entry("type", self.0.kind)?;
                    m.serialize_entry("account_id", self.0.account_id)?;
                    m.end()
                }
            }
            let list: Vec<R<'_>> = res.into_iter().map(R).collect();
            m.serialize_entry("resources", &list)?;
        }
        m.end()
    }
}
