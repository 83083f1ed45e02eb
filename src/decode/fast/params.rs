//! `requestParameters` and `responseElements` of the calls whose parameters the pipeline reads
//! (credential minting, address and role-policy calls), and S3's `additionalEventData`, read with the
//! fast cursor.
//!
//! Every `AssumeRole` that delivers a workload's credentials is read this way, and its response
//! carries a session token of a kilobyte or more that serde_json skips a few bytes at a time: on a
//! trail of short-lived keys that was a few percent of the scan. As for records, this reader takes
//! strictly less than serde_json: `None` means "not taken", and the caller then reads the text with
//! serde_json, whose result (a value, or nothing when it fails) is the one that counts.

use super::super::raw::{RawAdditional, RawAssumedRoleUser, RawCredentials, RawRequest, RawResponse};
use super::cursor::{Cur, KINDS, NO_GUESS};
use super::first;

/// Runs `read` on the whole of `raw`, which must be one object and nothing after it but white space.
fn whole<'a, T>(raw: &'a str, read: impl FnOnce(&mut Cur<'a>) -> Option<T>) -> Option<T> {
    let mut c = Cur { text: raw, b: raw.as_bytes(), i: 0, next: [[NO_GUESS; 64]; KINDS] };
    c.ws();
    let v = read(&mut c)?;
    c.ws();
    (c.i == c.b.len()).then_some(v)
}

/// [`RawRequest`] as serde_json reads it from `raw`, when this reader takes the text.
pub(in crate::decode) fn request(raw: &str) -> Option<RawRequest<'_>> {
    whole(raw, |c| {
        let mut r = RawRequest::default();
        let mut seen = 0u32;
        c.members(|c, key| {
            match key {
                "roleArn" => {
                    first(&mut seen, 0)?;
                    r.role_arn = c.text()?;
                }
                "roleSessionName" => {
                    first(&mut seen, 1)?;
                    r.role_session_name = c.text()?;
                }
                "instanceId" => {
                    first(&mut seen, 2)?;
                    r.instance_id = c.text()?;
                }
                "publicIp" => {
                    first(&mut seen, 3)?;
                    r.public_ip = c.text()?;
                }
                "allocationId" => {
                    first(&mut seen, 4)?;
                    r.allocation_id = c.text()?;
                }
                "roleName" => {
                    first(&mut seen, 5)?;
                    r.role_name = c.text()?;
                }
                "policyName" => {
                    first(&mut seen, 6)?;
                    r.policy_name = c.text()?;
                }
                _ => {
                    c.skip()?;
                }
            }
            Some(())
        })?;
        Some(r)
    })
}

/// [`RawResponse`] as serde_json reads it from `raw`, when this reader takes the text.
pub(in crate::decode) fn response(raw: &str) -> Option<RawResponse<'_>> {
    whole(raw, |c| {
        let mut r = RawResponse::default();
        let mut seen = 0u32;
        c.members(|c, key| {
            match key {
                "credentials" => {
                    first(&mut seen, 0)?;
                    r.credentials = if c.null()? { None } else { Some(credentials(c)?) };
                }
                "assumedRoleUser" => {
                    first(&mut seen, 1)?;
                    r.assumed_role_user = if c.null()? { None } else { Some(assumed_role_user(c)?) };
                }
                "publicIp" => {
                    first(&mut seen, 2)?;
                    r.public_ip = c.text()?;
                }
                "allocationId" => {
                    first(&mut seen, 3)?;
                    r.allocation_id = c.text()?;
                }
                _ => {
                    c.skip()?;
                }
            }
            Some(())
        })?;
        Some(r)
    })
}

/// [`RawAdditional`] as serde_json reads it from `raw`, when this reader takes the text: every S3
/// call carries one.
pub(in crate::decode) fn additional(raw: &str) -> Option<RawAdditional<'_>> {
    whole(raw, |c| {
        let mut r = RawAdditional::default();
        let mut seen = 0u32;
        c.members(|c, key| {
            match key {
                "AuthenticationMethod" => {
                    first(&mut seen, 0)?;
                    r.auth_method = c.text()?;
                }
                _ => {
                    c.skip()?;
                }
            }
            Some(())
        })?;
        Some(r)
    })
}

fn credentials<'a>(c: &mut Cur<'a>) -> Option<RawCredentials<'a>> {
    let mut s = RawCredentials::default();
    let mut seen = 0u32;
    c.members(|c, key| {
        match key {
            "accessKeyId" => {
                first(&mut seen, 0)?;
                s.access_key_id = c.text()?;
            }
            "expiration" => {
                first(&mut seen, 1)?;
                s.expiration = c.text()?;
            }
            // The session token, mostly: skipped at the cursor's speed.
            _ => {
                c.skip()?;
            }
        }
        Some(())
    })?;
    Some(s)
}

fn assumed_role_user<'a>(c: &mut Cur<'a>) -> Option<RawAssumedRoleUser<'a>> {
    let mut s = RawAssumedRoleUser::default();
    let mut seen = 0u32;
    c.members(|c, key| {
        match key {
            "assumedRoleId" => {
                first(&mut seen, 0)?;
                s.assumed_role_id = c.text()?;
            }
            "arn" => {
                first(&mut seen, 1)?;
                s.arn = c.text()?;
            }
            _ => {
                c.skip()?;
            }
        }
        Some(())
    })?;
    Some(s)
}

/// Every field the pipeline reads from a request, in one line, to compare two readings.
fn show_request(r: &RawRequest<'_>) -> String {
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        r.role_arn, r.role_session_name, r.instance_id, r.public_ip, r.allocation_id, r.role_name, r.policy_name
    )
}

/// Every field the pipeline reads from a response, in one line (see [`show_request`]).
fn show_response(r: &RawResponse<'_>) -> String {
    let c = r.credentials.as_ref().map(|c| format!("{:?}|{:?}", c.access_key_id, c.expiration));
    let u = r.assumed_role_user.as_ref().map(|u| format!("{:?}|{:?}", u.assumed_role_id, u.arn));
    format!("{c:?}|{u:?}|{:?}|{:?}", r.public_ip, r.allocation_id)
}

/// This reader's contract, checked on one text as a request, as a response and as S3's additional
/// data: wherever it takes the text, it reads what serde_json reads. `Ok(true)` when it took the text
/// all three ways,
/// `Err` with both readings where they differ. The tests and the `params` fuzz target call it.
pub(in crate::decode) fn agrees_with_serde(raw: &str) -> Result<bool, String> {
    let fast_req = request(raw).map(|r| show_request(&r));
    let fast_resp = response(raw).map(|r| show_response(&r));
    if let Some(f) = &fast_req {
        let slow = serde_json::from_str::<RawRequest<'_>>(raw).ok().map(|r| show_request(&r));
        if slow.as_ref() != Some(f) {
            return Err(format!("request {raw:?}: this reader {f}, serde_json {slow:?}"));
        }
    }
    if let Some(f) = &fast_resp {
        let slow = serde_json::from_str::<RawResponse<'_>>(raw).ok().map(|r| show_response(&r));
        if slow.as_ref() != Some(f) {
            return Err(format!("response {raw:?}: this reader {f}, serde_json {slow:?}"));
        }
    }
    let fast_more = additional(raw).map(|a| format!("{:?}", a.auth_method));
    if let Some(f) = &fast_more {
        let slow = serde_json::from_str::<RawAdditional<'_>>(raw).ok().map(|a| format!("{:?}", a.auth_method));
        if slow.as_ref() != Some(f) {
            return Err(format!("additional data {raw:?}: this reader {f}, serde_json {slow:?}"));
        }
    }
    Ok(fast_req.is_some() && fast_resp.is_some() && fast_more.is_some())
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
