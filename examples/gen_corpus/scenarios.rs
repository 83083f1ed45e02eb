//! Labelled scenarios: hard negatives and planted thefts, with ground truth.
use crate::gen::Stats;
use crate::population::Builder;
use std::path::Path;

pub const ALL: &[&str] = &[];

pub struct Truth {
    pub name: String,
    pub expected: &'static str,
    pub keys: Vec<String>,
    pub malicious_keys: Vec<String>,
    pub first_malicious_time: Option<i64>,
    pub notes: String,
    pub flags: Vec<String>,
}

pub fn resolve(names: &[String]) -> Result<Vec<&'static str>, String> {
    let mut out = Vec::new();
    for n in names {
        if n == "all" {
            out.extend_from_slice(ALL);
        } else if let Some(x) = ALL.iter().find(|x| **x == n) {
            out.push(*x);
        } else {
            return Err(format!("unknown scenario {:?}; known: all,{}", n, ALL.join(",")));
        }
    }
    // Canonical order, no duplicates: planting does not depend on how they were listed.
    out.sort_by_key(|n| ALL.iter().position(|x| x == n));
    out.dedup();
    Ok(out)
}

pub fn plant(_b: &mut Builder, _scripted: &mut [Vec<(i64, String)>], name: &str) -> Truth {
    Truth {
        name: name.to_string(),
        expected: "none",
        keys: vec![],
        malicious_keys: vec![],
        first_malicious_time: None,
        notes: String::new(),
        flags: vec![],
    }
}

pub fn write_truth(path: &Path, truths: &[Truth], st: &Stats) -> std::io::Result<()> {
    use serde_json::json;
    let sc: Vec<_> = truths
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "expected": t.expected,
                "keys": t.keys,
                "malicious_keys": t.malicious_keys,
                "first_malicious_time": t.first_malicious_time.map(crate::json::ts),
                "notes": t.notes,
                "flags": t.flags,
            })
        })
        .collect();
    let v = json!({"scenarios": sc, "files": st.files, "records": st.records, "bytes": st.bytes});
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap() + "\n")
}
