//! A tiny ordered JSON writer (serde_json's map would sort keys; CloudTrail has its own order).

pub fn esc(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes one JSON object, keys in call order.
pub struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    pub fn new(out: &'a mut String) -> Obj<'a> {
        out.push('{');
        Obj { out, first: true }
    }
    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        esc(self.out, k);
        self.out.push(':');
    }
    pub fn s(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        esc(self.out, v);
        self
    }
    pub fn b(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k);
        self.out.push_str(if v { "true" } else { "false" });
        self
    }
    pub fn n(&mut self, k: &str, v: i64) -> &mut Self {
        self.key(k);
        self.out.push_str(&v.to_string());
        self
    }
    pub fn null(&mut self, k: &str) -> &mut Self {
        self.key(k);
        self.out.push_str("null");
        self
    }
    /// Raw JSON text as the value.
    pub fn raw(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        self.out.push_str(v);
        self
    }
    pub fn o(&mut self, k: &str, f: impl FnOnce(&mut Obj)) -> &mut Self {
        self.key(k);
        let mut o = Obj::new(self.out);
        f(&mut o);
        o.end();
        self
    }
    /// Array of objects.
    pub fn arr(&mut self, k: &str, n: usize, mut f: impl FnMut(usize, &mut Obj)) -> &mut Self {
        self.key(k);
        self.out.push('[');
        for i in 0..n {
            if i > 0 {
                self.out.push(',');
            }
            let mut o = Obj::new(self.out);
            f(i, &mut o);
            o.end();
        }
        self.out.push(']');
        self
    }
    /// Array of strings.
    pub fn sarr(&mut self, k: &str, items: &[&str]) -> &mut Self {
        self.key(k);
        self.out.push('[');
        for (i, s) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            esc(self.out, s);
        }
        self.out.push(']');
        self
    }
    pub fn end(self) {
        self.out.push('}');
    }
}

/// Build a standalone object as a String.
pub fn obj(f: impl FnOnce(&mut Obj)) -> String {
    let mut s = String::with_capacity(256);
    let mut o = Obj::new(&mut s);
    f(&mut o);
    o.end();
    s
}

pub fn ts(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).expect("time in range").format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
