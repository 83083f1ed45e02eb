//! The fast path for the shape that is nearly every byte scanned: a CloudTrail log file,
//! `{"Records":[{...},{...}]}`, whose records hold plain strings.
//!
//! serde_json spends most of a scan on generic machinery: a visitor per value, a second look at every
//! key, the lenient deserializers' dispatch. This reader knows the record's fields and reads them
//! straight from the text. It accepts strictly less than serde_json does: at anything it does not
//! take (a key with an escape, a number where text belongs, a wrapper, a duplicate field, a syntax
//! error) it gives up, and the caller reads the document again with serde_json, whose records and
//! error messages then count, unchanged. So for the records it does take, it must build exactly what
//! serde_json builds; `tests` checks this on every committed corpus and on mutated records.
//!
//! CloudTrail writes a record's fields in a fixed order, so each key is first compared with the key
//! that followed the previous one last time: most keys are then known without scanning for their end.
//!
//! Values the pipeline never reads (`tlsDetails`, most of `requestParameters`...) are
//! skipped, but checked as strictly as serde_json checks them (strings without control characters
//! and with valid escapes, the number grammar, literals), so that what it takes is valid JSON.

mod cursor;
pub(super) mod params;

use super::raw::{RawAttributes, RawIdentity, RawIssuer, RawRecord, RawResource, RawSessionContext};
use cursor::{Cur, KINDS, NO_GUESS};

/// Marks a field read once: serde's derived readers refuse a field written twice, so this path
/// must not take such an object.
#[inline]
fn first(seen: &mut u32, bit: u32) -> Option<()> {
    let m = 1u32 << bit;
    (*seen & m == 0).then(|| *seen |= m)
}

/// The keys worth guessing, per kind of object (see `Cur::members_in_order`): the fields read, and
/// those CloudTrail writes that are skipped, in CloudTrail's order.
const RECORD_KEYS: &[&str] = &[
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "requestID",
    "eventID",
    "readOnly",
    "resources",
    "eventType",
    "apiVersion",
    "managementEvent",
    "recipientAccountId",
    "sharedEventID",
    "vpcEndpointId",
    "vpcEndpointAccountId",
    "serviceEventDetails",
    "eventCategory",
    "tlsDetails",
    "sessionCredentialFromConsole",
    "insightDetails",
    "edgeDeviceDetails",
    "addendum",
    "@timestamp",
];
const IDENTITY_KEYS: &[&str] = &[
    "type",
    "principalId",
    "arn",
    "accountId",
    "accessKeyId",
    "userName",
    "sessionContext",
    "invokedBy",
    "identityProvider",
    "credentialId",
    "onBehalfOf",
    "inScopeOf",
];
const SESSION_KEYS: &[&str] =
    &["sessionIssuer", "webIdFederationData", "attributes", "ec2RoleDelivery", "sourceIdentity", "assumedRoot"];
const ISSUER_KEYS: &[&str] = &["type", "principalId", "arn", "accountId", "userName"];
const ATTRIBUTE_KEYS: &[&str] = &["creationDate", "mfaAuthenticated"];

/// Fills `r` (which starts empty) from the record object at the cursor. Built in place: a record is
/// about a kilobyte, and returning it by value copies it.
fn record<'a>(c: &mut Cur<'a>, r: &mut RawRecord<'a>) -> Option<()> {
    let mut seen = 0u32;
    c.members_in_order(0, RECORD_KEYS, |c, key| {
        match key {
            "eventTime" => {
                first(&mut seen, 0)?;
                r.event_time = c.text()?;
            }
            "@timestamp" => {
                first(&mut seen, 1)?;
                r.at_timestamp = c.text()?;
            }
            "eventID" => {
                first(&mut seen, 2)?;
                r.event_id = c.text()?;
            }
            "eventSource" => {
                first(&mut seen, 3)?;
                r.event_source = c.text()?;
            }
            "eventName" => {
                first(&mut seen, 4)?;
                r.event_name = c.text()?;
            }
            "eventType" => {
                first(&mut seen, 5)?;
                r.event_type = c.text()?;
            }
            "awsRegion" => {
                first(&mut seen, 6)?;
                r.aws_region = c.text()?;
            }
            "recipientAccountId" => {
                first(&mut seen, 7)?;
                r.recipient_account_id = c.text()?;
            }
            "errorCode" => {
                first(&mut seen, 8)?;
                r.error_code = c.text()?;
            }
            "readOnly" => {
                first(&mut seen, 9)?;
                r.read_only = match c.text()?.as_ref() {
                    "true" | "True" | "TRUE" | "1" => Some(true),
                    "false" | "False" | "FALSE" | "0" => Some(false),
                    _ => None,
                };
            }
            "sourceIPAddress" => {
                first(&mut seen, 10)?;
                r.source_ip = c.text()?;
            }
            "userAgent" => {
                first(&mut seen, 11)?;
                r.user_agent = c.text()?;
            }
            "vpcEndpointId" => {
                first(&mut seen, 12)?;
                r.vpc_endpoint_id = c.text()?;
            }
            "vpcEndpointAccountId" => {
                first(&mut seen, 13)?;
                r.vpc_endpoint_account_id = c.text()?;
            }
            "userIdentity" => {
                first(&mut seen, 14)?;
                if !c.null()? {
                    identity(c, r.user_identity.insert(RawIdentity::default()))?;
                }
            }
            "resources" => {
                first(&mut seen, 15)?;
                r.resources = if c.null()? { Vec::new() } else { resources(c)? };
            }
            "requestParameters" => {
                first(&mut seen, 16)?;
                r.request_parameters = if c.null()? { None } else { Some(c.skip()?) };
            }
            "responseElements" => {
                first(&mut seen, 17)?;
                r.response_elements = if c.null()? { None } else { Some(c.skip()?) };
            }
            "additionalEventData" => {
                first(&mut seen, 18)?;
                r.additional_event_data = if c.null()? { None } else { Some(c.skip()?) };
            }
            // Wrappers and digests are the general reader's.
            "Records" | "Events" | "CloudTrailEvent" | "detail" | "log" | "digestStartTime" => return None,
            _ => {
                c.skip()?;
            }
        }
        Some(())
    })?;
    // Something without an event name or source is a wrapper or not CloudTrail: the general reader's.
    (!r.event_name.is_empty() || !r.event_source.is_empty()).then_some(())
}

fn identity<'a>(c: &mut Cur<'a>, u: &mut RawIdentity<'a>) -> Option<()> {
    let mut seen = 0u32;
    c.members_in_order(1, IDENTITY_KEYS, |c, key| {
        match key {
            "type" => {
                first(&mut seen, 0)?;
                u.kind = c.text()?;
            }
            "principalId" => {
                first(&mut seen, 1)?;
                u.principal_id = c.text()?;
            }
            "arn" => {
                first(&mut seen, 2)?;
                u.arn = c.text()?;
            }
            "accountId" => {
                first(&mut seen, 3)?;
                u.account_id = c.text()?;
            }
            "accessKeyId" => {
                first(&mut seen, 4)?;
                u.access_key_id = c.text()?;
            }
            "userName" => {
                first(&mut seen, 5)?;
                u.user_name = c.text()?;
            }
            "invokedBy" => {
                first(&mut seen, 6)?;
                u.invoked_by = c.text()?;
            }
            "identityProvider" => {
                first(&mut seen, 7)?;
                u.identity_provider = c.text()?;
            }
            "sessionContext" => {
                first(&mut seen, 8)?;
                if !c.null()? {
                    session_context(c, u.session_context.insert(RawSessionContext::default()))?;
                }
            }
            _ => {
                c.skip()?;
            }
        }
        Some(())
    })
}

fn session_context<'a>(c: &mut Cur<'a>, s: &mut RawSessionContext<'a>) -> Option<()> {
    let mut seen = 0u32;
    c.members_in_order(2, SESSION_KEYS, |c, key| {
        match key {
            "sessionIssuer" => {
                first(&mut seen, 0)?;
                s.session_issuer = if c.null()? { None } else { Some(issuer(c)?) };
            }
            "attributes" => {
                first(&mut seen, 1)?;
                s.attributes = if c.null()? { None } else { Some(attributes(c)?) };
            }
            "ec2RoleDelivery" => {
                first(&mut seen, 2)?;
                s.ec2_role_delivery = c.text()?;
            }
            "sourceIdentity" => {
                first(&mut seen, 3)?;
                s.source_identity = c.text()?;
            }
            _ => {
                c.skip()?;
            }
        }
        Some(())
    })
}

fn issuer<'a>(c: &mut Cur<'a>) -> Option<RawIssuer<'a>> {
    let mut s = RawIssuer::default();
    let mut seen = 0u32;
    c.members_in_order(3, ISSUER_KEYS, |c, key| {
        match key {
            "type" => {
                first(&mut seen, 0)?;
                s.kind = c.text()?;
            }
            "principalId" => {
                first(&mut seen, 1)?;
                s.principal_id = c.text()?;
            }
            "arn" => {
                first(&mut seen, 2)?;
                s.arn = c.text()?;
            }
            "userName" => {
                first(&mut seen, 3)?;
                s.user_name = c.text()?;
            }
            _ => {
                c.skip()?;
            }
        }
        Some(())
    })?;
    Some(s)
}

fn attributes<'a>(c: &mut Cur<'a>) -> Option<RawAttributes<'a>> {
    let mut s = RawAttributes::default();
    let mut seen = 0u32;
    c.members_in_order(4, ATTRIBUTE_KEYS, |c, key| {
        match key {
            "creationDate" => {
                first(&mut seen, 0)?;
                s.creation_date = c.text()?;
            }
            _ => {
                c.skip()?;
            }
        }
        Some(())
    })?;
    Some(s)
}

fn resources<'a>(c: &mut Cur<'a>) -> Option<Vec<RawResource<'a>>> {
    if c.peek()? != b'[' {
        return None;
    }
    c.i += 1;
    let mut out = Vec::new();
    c.ws();
    if c.peek()? == b']' {
        c.i += 1;
        return Some(out);
    }
    loop {
        c.ws();
        if !c.null()? {
            let mut s = RawResource::default();
            let mut seen = 0u32;
            c.members(|c, key| {
                match key {
                    "ARN" => {
                        first(&mut seen, 0)?;
                        s.arn = c.text()?;
                    }
                    "type" => {
                        first(&mut seen, 1)?;
                        s.kind = c.text()?;
                    }
                    "accountId" => {
                        first(&mut seen, 2)?;
                        s.account_id = c.text()?;
                    }
                    _ => {
                        c.skip()?;
                    }
                }
                Some(())
            })?;
            out.push(s);
        }
        c.ws();
        let d = c.peek()?;
        c.i += 1;
        match d {
            b',' => {}
            b']' => return Some(out),
            _ => return None,
        }
    }
}

/// What the fast path made of one document.
pub(super) enum Outcome {
    /// The whole document was read; it ended at this offset of the text.
    Done(usize),
    /// It gave up after handing on this many records: the document must be read again by serde_json,
    /// which must not hand those on a second time.
    GaveUp(u64),
}

/// Reads the document at the start of `text`, `{"Records":[...]}`, handing each record to `sink`.
// Kept out of its caller: inlined into `decode_container` (which a change elsewhere in the crate
// made the compiler do) it ran 2 to 3% slower over a whole scan, measured on both bench corpora.
#[inline(never)]
pub(super) fn records(text: &str, sink: &mut dyn FnMut(&RawRecord<'_>)) -> Outcome {
    let mut c = Cur { text, b: text.as_bytes(), i: 0, next: [[NO_GUESS; 64]; KINDS] };
    let mut handed = 0u64;
    let done = (|| -> Option<usize> {
        c.eat(b'{')?;
        if c.key()? != "Records" || c.peek()? != b'[' {
            return None;
        }
        c.i += 1;
        c.ws();
        if c.peek()? != b']' {
            loop {
                c.ws();
                let mut rec = RawRecord::default();
                record(&mut c, &mut rec)?;
                sink(&rec);
                handed += 1;
                c.ws();
                let d = c.peek()?;
                c.i += 1;
                match d {
                    b',' => {}
                    b']' => break,
                    _ => return None,
                }
            }
        } else {
            c.i += 1;
        }
        // Another key after the records is the general reader's.
        c.eat(b'}')?;
        Some(c.i)
    })();
    match done {
        Some(end) => {
            #[cfg(test)]
            TAKEN.with(|t| t.set(t.get() + 1));
            Outcome::Done(end)
        }
        None => Outcome::GaveUp(handed),
    }
}

#[cfg(test)]
thread_local! {
    /// Documents this thread read with the fast path, so tests can tell it was used.
    static TAKEN: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
mod tests;
