//! A small fault-injecting HTTP proxy for tests: forwards each request to an upstream server (moto),
//! except that requests whose body holds a marker (`Action=GetRolePolicy`) fail from the Nth on, with
//! a 500 or a closed connection. One request per connection (`Connection: close` both ways), so
//! counting is exact. It stops by itself after a minute, or when dropped.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How a chosen request fails.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// `500 InternalFailure`, as IAM answers when it fails.
    Status500,
    /// The connection is closed without an answer (a reset on the client's side).
    Close,
}

pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`, to pass as the endpoint.
    pub url: String,
    /// How many requests carried the marker, and how many of them were failed.
    pub matched: Arc<AtomicUsize>,
    pub failed: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Most connections served, and longest life: the proxy never outlives its test.
const MAX_CONNECTIONS: usize = 500;
const LIFETIME: Duration = Duration::from_secs(60);

impl FaultProxy {
    /// Proxies to `upstream` (`http://host:port`); the `from`-th request whose body contains `marker`
    /// and every later one fail with `fault` (the SDK retries a failed request, so one failure alone
    /// would be hidden).
    pub fn start(upstream: &str, marker: &'static str, from: usize, fault: Fault) -> FaultProxy {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let (matched, failed, stop) =
            (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let (m, f, s) = (matched.clone(), failed.clone(), stop.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut served = 0;
            while !s.load(Ordering::Relaxed) && start.elapsed() < LIFETIME && served < MAX_CONNECTIONS {
                match listener.accept() {
                    Ok((client, _)) => {
                        served += 1;
                        let (up, m, f) = (upstream.clone(), m.clone(), f.clone());
                        std::thread::spawn(move || {
                            let _ = serve(client, &up, marker, from, fault, &m, &f);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FaultProxy { url, matched, failed, stop }
    }
}

/// Reads one HTTP message head and the body its Content-Length announces.
fn read_request(s: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 || buf.len() > 1 << 20 {
            return Err(std::io::Error::other("incomplete request head"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok((head, body))
}

/// The head without its Connection and Keep-Alive headers, with `Connection: close` added.
fn closing(head: &str) -> String {
    let mut out: Vec<&str> = head
        .trim_end_matches("\r\n")
        .split("\r\n")
        .filter(|l| {
            let k = l.split(':').next().unwrap_or("").trim();
            !k.eq_ignore_ascii_case("connection") && !k.eq_ignore_ascii_case("keep-alive")
        })
        .collect();
    out.push("Connection: close");
    out.join("\r\n") + "\r\n\r\n"
}

fn serve(
    mut client: TcpStream,
    upstream: &str,
    marker: &str,
    from: usize,
    fault: Fault,
    matched: &AtomicUsize,
    failed: &AtomicUsize,
) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    let (head, body) = read_request(&mut client)?;
    let hit = memchr_contains(&body, marker.as_bytes());
    if hit && matched.fetch_add(1, Ordering::Relaxed) + 1 >= from {
        failed.fetch_add(1, Ordering::Relaxed);
        match fault {
            Fault::Close => return Ok(()),
            Fault::Status500 => {
                let xml = "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>injected by \
                           the test proxy</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>";
                let resp = format!(
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                    xml.len()
                );
                return client.write_all(resp.as_bytes());
            }
        }
    }
    let mut up = TcpStream::connect(upstream)?;
    up.set_read_timeout(Some(Duration::from_secs(30)))?;
    up.write_all(closing(&head).as_bytes())?;
    up.write_all(&body)?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp)?;
    let Some(i) = resp.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(std::io::Error::other("upstream answered no HTTP head"));
    };
    client.write_all(closing(&String::from_utf8_lossy(&resp[..i + 4])).as_bytes())?;
    client.write_all(&resp[i + 4..])?;
    client.flush()
}

fn memchr_contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
