//! The parameters reader must give serde_json's result whenever it takes a text.

use super::{agrees_with_serde, response};
use std::path::Path;

/// Checks one text both ways; `true` when the fast reader took it.
fn same(raw: &str) -> bool {
    agrees_with_serde(raw).unwrap_or_else(|e| panic!("{e}"))
}

/// Every `requestParameters`, `responseElements` and `additionalEventData` of the committed and shared
/// corpora.
fn corpus_params() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    super::super::tests::files(&root.join("fixtures"), &mut files);
    let shared = root.join("../shared/corpora");
    if std::env::var("CI").as_deref() == Ok("true") {
        assert!(shared.is_dir(), "CI=true: {} is missing", shared.display());
    }
    super::super::tests::files(&shared, &mut files);
    let mut out = Vec::new();
    for p in files {
        let Ok(bytes) = std::fs::read(&p) else { continue };
        if bytes.len() > 64 << 20 {
            continue;
        }
        crate::decode::Decoder::new().decode(&bytes, &mut |rec| {
            out.extend(rec.request_parameters.map(str::to_owned));
            out.extend(rec.response_elements.map(str::to_owned));
            out.extend(rec.additional_event_data.map(str::to_owned));
        });
    }
    out
}

#[test]
fn parameters_read_like_serde_in_every_corpus() {
    let all = corpus_params();
    let taken = all.iter().filter(|raw| same(raw)).count();
    assert!(all.len() > 2_000, "only {} parameter texts", all.len());
    // Nearly every real text is plain JSON the reader takes.
    assert!(taken * 10 > all.len() * 9, "taken {taken} of {}", all.len());
    let minted = all.iter().filter_map(|raw| response(raw)).filter(|r| r.credentials.is_some()).count();
    assert!(minted > 10, "only {minted} responses with credentials");
}

#[test]
fn odd_parameters_are_left_to_serde_or_read_the_same() {
    for raw in [
        r#"{"credentials":{"accessKeyId":"ASIA1","sessionToken":"x","expiration":"Jan 1, 2027"},"assumedRoleUser":{"assumedRoleId":"AROA1:s","arn":"arn"}}"#,
        r#" { "credentials" : null , "assumedRoleUser" : { } } "#,
        r#"{"credentials":[],"assumedRoleUser":"x"}"#,
        r#"{"credentials":1}"#,
        r#"{"credentials":{"accessKeyId":1}}"#,
        r#"{"credentials":{"accessKeyId":"A","accessKeyId":"B"}}"#,
        r#"{"credentials":null,"credentials":{"accessKeyId":"B"}}"#,
        r#"{"roleArn":"a","roleArn":"b"}"#,
        r#"{"AuthenticationMethod":"QueryString","AuthenticationMethod":"AuthHeader"}"#,
        r#"{"AuthenticationMethod":1,"bytesTransferredOut":2.5e3,"x-amz-id-2":"a/b="}"#,
        r#"{"AuthenticationMethod":null}"#,
        r#"{"Authentication\u004dethod":"QueryString"}"#,
        r#"{"roleArn":true,"roleSessionName":null,"instanceId":false}"#,
        r#"{"role\u0041rn":"a"}"#,
        r#"{"roleArn":"a\u00e9\"b"}"#,
        r#"{"roleArn":"a"} x"#,
        r#"{"roleArn":"a"}}"#,
        r#"{"roleArn":"a",}"#,
        r#"{"roleArn":"a""#,
        r#"{"x":[1,{"y":-2.5e3}],"publicIp":"1.2.3.4","allocationId":"eipalloc-1"}"#,
        r#"null"#,
        r#"[]"#,
        r#""text""#,
        r#"{}"#,
        "",
        "{\"roleArn\":\"control \u{1}\"}",
        r#"{"roleArn":"\ud800"}"#,
    ] {
        same(raw);
    }
    assert!(same(r#"{"credentials":{"accessKeyId":"ASIA1","sessionToken":"x"}}"#));
}

#[test]
fn mutated_parameters_read_the_same_both_ways() {
    let mut samples: Vec<String> = corpus_params().into_iter().filter(|r| r.contains("credentials")).take(40).collect();
    samples.push(r#"{"roleArn":"arn:aws:iam::1:role/r","roleSessionName":"s","durationSeconds":3600}"#.to_owned());
    let mut taken = 0;
    super::super::tests::mutants(&samples, 200, 0x2545_f491_4f6c_dd1d, |_, m| taken += same(m) as usize);
    assert!(taken > 100, "only {taken} mutated texts taken");
}
