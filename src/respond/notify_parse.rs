//! S3 `ObjectCreated` notifications in every shape AWS puts them on an SQS queue.
//!
//! - S3 -> SQS, and S3 -> SNS -> SQS with raw message delivery: `{"Records":[{"eventSource":"aws:s3",
//!   "eventName":"ObjectCreated:Put","s3":{"bucket":{"name":..},"object":{"key":..}}}]}`; S3 sends
//!   `{"Event":"s3:TestEvent",...}` once when the notification is configured.
//! - S3 -> SNS -> SQS without raw delivery: the same document, as a string, in the SNS envelope's
//!   `Message` (`{"Type":"Notification","Message":"..."}`).
//! - EventBridge -> SQS: `{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":..},
//!   "object":{"key":..}}}`.
//! - CloudTrail's own SNS notification (the trail's `SnsTopicName`): `{"s3Bucket":..,"s3ObjectKey":[..]}`,
//!   in an SNS envelope or raw.
//!
//! S3 writes keys URL-encoded in form style (`+` is a space, `%2B` a plus). The keys of EventBridge and
//! of CloudTrail's notification are decoded the same way: CloudTrail's own keys hold neither `+` nor
//! `%`, so decoding them changes nothing, and a key that does hold them is one someone else wrote.

use serde_json::Value;

/// One object a notification announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    /// The bucket name.
    pub bucket: String,
    /// The object key, URL-decoded: what GetObject takes.
    pub key: String,
    /// The key as the notification wrote it, when decoding changed it: tried when the decoded key is
    /// not found (a sender that did not encode a key holding `+` or `%`).
    pub raw_key: Option<String>,
    /// The size the notification states (0 when it states none).
    pub size: u64,
    /// The ETag the notification states, quotes removed (empty when it states none).
    pub etag: String,
}

impl ObjectRef {
    /// `s3://bucket/key`, how the object is named in reports and in the processed-objects record.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// What one SQS message body says.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Notice {
    /// Objects created, in the order of the message.
    pub objects: Vec<ObjectRef>,
    /// `s3:TestEvent` messages (sent when a bucket notification is configured): nothing to read.
    pub tests: u32,
    /// Records that are not object creations (`ObjectRemoved:*`, other sources): `(what, why)`,
    /// reported and not read.
    pub ignored: Vec<String>,
}

/// Reads one SQS message body; the error says why the body is not a notification this reads.
pub fn parse(body: &str) -> Result<Notice, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("not JSON ({e})"))?;
    let mut notice = Notice::default();
    read_value(&v, &mut notice, 0)?;
    Ok(notice)
}

fn read_value(v: &Value, out: &mut Notice, depth: u8) -> Result<(), String> {
    let Some(obj) = v.as_object() else {
        return Err("not a JSON object".into());
    };
    // An SNS envelope carries the S3 (or CloudTrail) document as a string.
    if obj.get("Type").and_then(Value::as_str) == Some("Notification") {
        let msg = obj.get("Message").and_then(Value::as_str).ok_or("SNS envelope without a Message string")?;
        if depth > 0 {
            return Err("SNS envelope inside an SNS envelope".into());
        }
        let inner: Value =
            serde_json::from_str(msg).map_err(|e| format!("the SNS envelope's Message is not JSON ({e})"))?;
        return read_value(&inner, out, depth + 1);
    }
    if obj.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        out.tests += 1;
        return Ok(());
    }
    if let Some(records) = obj.get("Records") {
        let records = records.as_array().ok_or("Records is not an array")?;
        for (i, r) in records.iter().enumerate() {
            read_s3_record(r, i, out)?;
        }
        return Ok(());
    }
    if obj.contains_key("detail-type") {
        return read_eventbridge(obj, out);
    }
    if let Some(keys) = obj.get("s3ObjectKey") {
        let bucket = obj.get("s3Bucket").and_then(Value::as_str).ok_or("s3ObjectKey without s3Bucket")?;
        let keys = keys.as_array().ok_or("s3ObjectKey is not an array")?;
        for k in keys {
            let k = k.as_str().ok_or("s3ObjectKey holds a non-string")?;
            out.objects.push(object(bucket, k, 0, "")?);
        }
        return Ok(());
    }
    Err("neither S3 Records, an s3:TestEvent, an EventBridge event nor a CloudTrail notification".into())
}

fn read_s3_record(r: &Value, i: usize, out: &mut Notice) -> Result<(), String> {
    let source = r.get("eventSource").and_then(Value::as_str).unwrap_or("");
    let name = r.get("eventName").and_then(Value::as_str).unwrap_or("");
    if source != "aws:s3" {
        out.ignored.push(format!("record {i}: event source {source:?}, not aws:s3"));
        return Ok(());
    }
    // `ObjectCreated:Put`, `:Post`, `:Copy`, `:CompleteMultipartUpload` (EventBridge-era prefix `s3:` too).
    if !name.trim_start_matches("s3:").starts_with("ObjectCreated:") {
        out.ignored.push(format!("record {i}: {name:?}, not an object creation"));
        return Ok(());
    }
    let s3 = r.get("s3").ok_or_else(|| format!("record {i}: no s3 member"))?;
    let bucket = s3.pointer("/bucket/name").and_then(Value::as_str).ok_or(format!("record {i}: no bucket name"))?;
    let o = s3.get("object").ok_or(format!("record {i}: no object member"))?;
    let key = o.get("key").and_then(Value::as_str).ok_or(format!("record {i}: no object key"))?;
    let size = o.get("size").and_then(Value::as_u64).unwrap_or(0);
    let etag = o.get("eTag").and_then(Value::as_str).unwrap_or("");
    out.objects.push(object(bucket, key, size, etag)?);
    Ok(())
}

fn read_eventbridge(obj: &serde_json::Map<String, Value>, out: &mut Notice) -> Result<(), String> {
    let kind = obj.get("detail-type").and_then(Value::as_str).unwrap_or("");
    let source = obj.get("source").and_then(Value::as_str).unwrap_or("");
    if source != "aws.s3" || kind != "Object Created" {
        out.ignored.push(format!("EventBridge event {kind:?} from {source:?}, not an S3 object creation"));
        return Ok(());
    }
    let d = obj.get("detail").ok_or("EventBridge event without detail")?;
    let bucket = d.pointer("/bucket/name").and_then(Value::as_str).ok_or("EventBridge event without bucket name")?;
    let key = d.pointer("/object/key").and_then(Value::as_str).ok_or("EventBridge event without object key")?;
    let size = d.pointer("/object/size").and_then(Value::as_u64).unwrap_or(0);
    let etag = d.pointer("/object/etag").and_then(Value::as_str).unwrap_or("");
    out.objects.push(object(bucket, key, size, etag)?);
    Ok(())
}

fn object(bucket: &str, key: &str, size: u64, etag: &str) -> Result<ObjectRef, String> {
    if bucket.is_empty() || key.is_empty() {
        return Err("empty bucket name or object key".into());
    }
    let decoded = form_decode(key)?;
    let raw_key = (decoded != key).then(|| key.to_owned());
    Ok(ObjectRef { bucket: bucket.to_owned(), key: decoded, raw_key, size, etag: etag.trim_matches('"').to_owned() })
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; the result must be UTF-8.
fn form_decode(s: &str) -> Result<String, String> {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| format!("object key {:?} does not decode to UTF-8", s.chars().take(200).collect::<String>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/12/06/111122223333_CloudTrail_us-east-1_20261206T0005Z_abc.json.gz";

    fn s3_body(key: &str) -> String {
        serde_json::json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-12-06T00:05:10.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": "trail", "arn": "arn:aws:s3:::trail"},
                   "object": {"key": key, "size": 1234, "eTag": "0123abcd", "sequencer": "0055AED6DCD90281E5"}}
        }]})
        .to_string()
    }

    #[test]
    fn s3_direct_record() {
        let n = parse(&s3_body(KEY)).unwrap();
        assert_eq!(
            n.objects,
            vec![ObjectRef {
                bucket: "trail".into(),
                key: KEY.into(),
                raw_key: None,
                size: 1234,
                etag: "0123abcd".into()
            }]
        );
    }

    #[test]
    fn url_encoded_key_plus_is_space() {
        let n = parse(&s3_body("logs/red+flower%2B1%3D2.json")).unwrap();
        assert_eq!(n.objects[0].key, "logs/red flower+1=2.json");
        assert_eq!(n.objects[0].raw_key.as_deref(), Some("logs/red+flower%2B1%3D2.json"));
    }

    #[test]
    fn sns_envelope_and_raw() {
        let env = serde_json::json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t",
            "Subject": "Amazon S3 Notification", "Message": s3_body(KEY)})
        .to_string();
        assert_eq!(parse(&env).unwrap().objects[0].key, KEY);
        let test = serde_json::json!({"Type": "Notification", "Message": "{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\",\"Bucket\":\"trail\"}"}).to_string();
        assert_eq!(parse(&test).unwrap(), Notice { tests: 1, ..Notice::default() });
    }

    #[test]
    fn eventbridge_object_created() {
        let ev = serde_json::json!({"version": "0", "id": "x", "detail-type": "Object Created", "source": "aws.s3",
            "account": "111122223333", "region": "us-east-1", "resources": ["arn:aws:s3:::trail"],
            "detail": {"version": "0", "bucket": {"name": "trail"}, "object": {"key": KEY, "size": 9, "etag": "e"},
                       "reason": "PutObject"}})
        .to_string();
        let n = parse(&ev).unwrap();
        assert_eq!(n.objects[0].bucket, "trail");
        assert_eq!(n.objects[0].size, 9);
        let other = ev.replace("Object Created", "Object Deleted");
        assert_eq!(parse(&other).unwrap().ignored.len(), 1);
    }

    #[test]
    fn several_records_and_removals() {
        let mut v: Value = serde_json::from_str(&s3_body(KEY)).unwrap();
        let mut second = v["Records"][0].clone();
        second["s3"]["object"]["key"] = "b.json.gz".into();
        let mut removed = second.clone();
        removed["eventName"] = "ObjectRemoved:Delete".into();
        v["Records"].as_array_mut().unwrap().extend([second, removed]);
        let n = parse(&v.to_string()).unwrap();
        assert_eq!(n.objects.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), vec![KEY, "b.json.gz"]);
        assert_eq!(n.ignored.len(), 1);
    }

    #[test]
    fn cloudtrail_sns_notification() {
        let ct = serde_json::json!({"s3Bucket": "trail", "s3ObjectKey": [KEY, KEY.replace("abc", "def")]}).to_string();
        assert_eq!(parse(&ct).unwrap().objects.len(), 2);
    }

    #[test]
    fn garbage_is_an_error_naming_why() {
        assert!(parse("hello").unwrap_err().contains("not JSON"));
        assert!(parse("[1]").unwrap_err().contains("not a JSON object"));
        assert!(parse("{\"a\":1}").unwrap_err().contains("neither"));
        assert!(parse(&s3_body("%FF%FE")).unwrap_err().contains("UTF-8"));
        let nested = serde_json::json!({"Type": "Notification", "Message":
            serde_json::json!({"Type": "Notification", "Message": "{}"}).to_string()})
        .to_string();
        assert!(parse(&nested).unwrap_err().contains("inside"));
    }
}
