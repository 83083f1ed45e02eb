//! Secret redaction for request parameters and response elements kept for reports.
//!
//! CloudTrail spells credential fields many ways (`sessionToken`, `SessionToken`,
//! `SecretAccessKey`, `secretKey`, `masterUserPassword`...), so fields are matched by name without
//! regard to case or separators, and any long base64 run (session tokens are hundreds of characters)
//! is redacted by shape wherever it sits, whatever its field is called.

use serde_json::Value;
use std::borrow::Cow;

/// What a redacted value becomes.
pub const REDACTED: &str = "(redacted by trailhound)";

/// Normalized names (lowercase, letters and digits only) of fields that hold secrets.
const SECRET_NAMES: &[&str] = &[
    "sessiontoken",
    "securitytoken",
    "secretaccesskey",
    "secretkey",
    "accesskeysecret",
    "password",
    "passphrase",
    "privatekey",
    "secretstring",
    "secretbinary",
    "plaintext",
    "keymaterial",
    "clientsecret",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "authtoken",
    "samlassertion",
    "webidentitytoken",
    "sshprivatekey",
    "servicepassword",
];

/// Parts of names that mark a secret wherever they occur (`newPassword`, `privateKeyPem`...).
const SECRET_PARTS: &[&str] = &["password", "privatekey", "secretaccesskey", "sessiontoken", "passphrase"];

/// The shortest base64 run treated as secret material (STS session tokens are far longer; key ids,
/// ARNs and hashes are shorter or carry other characters).
pub const MIN_TOKEN_LEN: usize = 100;

/// True when a field of this name holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let n: String = name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect();
    SECRET_NAMES.contains(&n.as_str()) || SECRET_PARTS.iter().any(|p| n.contains(p))
}

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/')
}

/// `s` with every base64 run of at least [`MIN_TOKEN_LEN`] characters that mixes upper case, lower
/// case and digits replaced by a marker.
pub fn redact_tokens(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    if b.len() < MIN_TOKEN_LEN {
        return Cow::Borrowed(s);
    }
    let mut out: Option<String> = None;
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        if !is_b64(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_b64(b[i]) {
            i += 1;
        }
        let run = &b[start..i];
        // Padding belongs to the token.
        while i < b.len() && b[i] == b'=' {
            i += 1;
        }
        let mixed = run.iter().any(u8::is_ascii_uppercase)
            && run.iter().any(u8::is_ascii_lowercase)
            && run.iter().any(u8::is_ascii_digit);
        if run.len() >= MIN_TOKEN_LEN && mixed {
            // Runs are ASCII, so `start` and `i` fall on character boundaries.
            let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
            o.push_str(&s[last..start]);
            o.push_str(REDACTED);
            last = i;
        }
    }
    match out {
        None => Cow::Borrowed(s),
        Some(mut o) => {
            o.push_str(&s[last..]);
            Cow::Owned(o)
        }
    }
}

/// Redacts secrets in place: values of secret-named fields, and token-shaped strings anywhere.
pub fn scrub(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if is_secret_name(k) && !val.is_null() {
                    *val = Value::String(REDACTED.into());
                } else {
                    scrub(val);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(scrub),
        Value::String(s) => {
            if let Cow::Owned(r) = redact_tokens(s) {
                *s = r;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_any_case_and_token_shapes() {
        for n in ["SessionToken", "SecretAccessKey", "secretKey", "password", "masterUserPassword", "PrivateKey"] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in ["secretId", "accessKeyId", "userName", "nextToken", "keyName"] {
            assert!(!is_secret_name(n), "{n}");
        }
        let token = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDx1Example0AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGh==";
        let s = format!("x token={token} y");
        assert_eq!(redact_tokens(&s), format!("x token={REDACTED} y"));
        let path = "arn:aws:s3:::bucket/".to_owned() + &"a/".repeat(80);
        assert_eq!(redact_tokens(&path), path, "a long path of one case is not a token");
        let mut v = serde_json::json!({"Credentials": {"AccessKeyId": "ASIAX", "SessionToken": "t"}, "x": [token]});
        scrub(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"Credentials": {"AccessKeyId": "ASIAX", "SessionToken": REDACTED}, "x": [REDACTED]})
        );
    }
}
