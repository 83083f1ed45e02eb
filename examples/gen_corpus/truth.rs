//! Ground truth of the planted scenarios and its file, `ground_truth.json`.
use crate::emit::Stats;
use crate::json::{Obj, ts};
use std::path::Path;

/// What a scenario planted and what a detector should say about it.
pub struct Truth {
    pub name: String,
    /// "none" (hard negative: no key may be reported) or "finding".
    pub expected: &'static str,
    /// Every key of the scenario's workloads.
    pub keys: Vec<String>,
    pub malicious_keys: Vec<String>,
    /// The earliest malicious event over all malicious keys (kept for older readers).
    pub first_malicious_time: Option<i64>,
    /// Per malicious key, its first malicious event (a returning thief uses many keys).
    pub first_malicious_times: Vec<(String, i64)>,
    /// The addresses the thieves' calls come from (as written in the records): a finding on a
    /// malicious key should name these, not the workload's own.
    pub malicious_origins: Vec<String>,
    pub notes: String,
    pub flags: Vec<String>,
    /// Where it was planted (for humans reading ground truth).
    pub account: String,
    pub region: String,
}

impl Truth {
    /// Marks `key` malicious from `t` (its first malicious event).
    pub fn mal(&mut self, key: String, t: i64) {
        if let Some(e) = self.first_malicious_times.iter_mut().find(|e| e.0 == key) {
            e.1 = e.1.min(t);
        } else {
            self.malicious_keys.push(key.clone());
            self.first_malicious_times.push((key, t));
        }
        self.first_malicious_time = Some(self.first_malicious_time.map_or(t, |x| x.min(t)));
    }
}

/// Writes `ground_truth.json`: the scenarios, then the corpus totals.
pub fn write_truth(path: &Path, truths: &[Truth], st: &Stats) -> std::io::Result<()> {
    let mut s = String::from("{\n  \"scenarios\": [");
    for (i, t) in truths.iter().enumerate() {
        s.push_str(if i == 0 { "\n    " } else { ",\n    " });
        let mut o = Obj::new(&mut s);
        o.s("name", &t.name)
            .s("expected", t.expected)
            .sarr("keys", &t.keys.iter().map(|x| x.as_str()).collect::<Vec<_>>())
            .sarr("malicious_keys", &t.malicious_keys.iter().map(|x| x.as_str()).collect::<Vec<_>>());
        match t.first_malicious_time {
            Some(x) => o.s("first_malicious_time", &ts(x)),
            None => o.null("first_malicious_time"),
        };
        o.o("first_malicious_times", |m| {
            for (k, x) in &t.first_malicious_times {
                m.s(k, &ts(*x));
            }
        });
        o.sarr("malicious_origins", &t.malicious_origins.iter().map(|x| x.as_str()).collect::<Vec<_>>());
        o.s("notes", &t.notes)
            .sarr("flags", &t.flags.iter().map(|x| x.as_str()).collect::<Vec<_>>())
            .s("account", &t.account)
            .s("region", &t.region);
        o.end();
    }
    s.push_str(if truths.is_empty() { "],\n" } else { "\n  ],\n" });
    s.push_str(&format!("  \"files\": {},\n  \"records\": {},\n  \"bytes\": {}\n}}\n", st.files, st.records, st.bytes));
    std::fs::write(path, s)
}
