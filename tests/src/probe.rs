//! A client using a service through its VIP in a loop, on a thread inside the client's
//! namespace, and what it saw: an HTTP GET (what `curl -m 0.5 http://VIP/` does) or a redis
//! `SET` every interval, each with a timeout; every attempt is recorded with its time.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::Netns;

/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);

/// One attempt.
#[derive(Clone, Debug)]
pub struct Sample {
    pub at: Instant,
    /// The reply (HTTP body, redis reply line), or why there was none.
    pub outcome: Result<String, String>,
}

/// A loop of requests running until stopped.
pub struct Probe {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What a client saw around one failure.
#[derive(Clone, Debug)]
pub struct Outage {
    /// Failed attempts after the failure was caused.
    pub errors: usize,
    /// From the first failed attempt to the first good one after it (zero without errors).
    pub length: Duration,
    /// From the failure to the first good reply from the new server (one whose reply differs
    /// from what the old one answered, when `new_reply` says so).
    pub served_again_after: Option<Duration>,
}

impl Probe {
    /// GET http://addr/ every `interval`; a reply is the body of a 200 response.
    pub fn http(netns: &Netns, addr: SocketAddr, interval: Duration) -> Self {
        Self::start(netns, interval, move |_| http_get(addr))
    }

    /// `SET probe:N N` to redis at `addr` every `interval`; a reply is redis' answer (`+OK`).
    pub fn redis_writes(netns: &Netns, addr: SocketAddr, interval: Duration) -> Self {
        let mut connection: Option<TcpStream> = None;
        Self::start(netns, interval, move |n| {
            let stream = match connection.as_mut() {
                Some(stream) => stream,
                None => connection.insert(connect(addr)?),
            };
            let result = redis_command(stream, &["SET", &format!("probe:{n}"), &n.to_string()]);
            if result.is_err() {
                connection = None;
            }
            match result {
                Ok(reply) if reply.starts_with('+') => Ok(reply),
                Ok(reply) => Err(reply),
                Err(e) => Err(e),
            }
        })
    }

    fn start(
        netns: &Netns,
        interval: Duration,
        mut attempt: impl FnMut(u64) -> Result<String, String> + Send + 'static,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let path = format!("/run/netns/{}", netns.name());
        let (stopped, collected) = (Arc::clone(&stop), Arc::clone(&samples));
        let thread = std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("namespace file");
            // SAFETY: setns on a namespace file we opened; only this thread moves.
            assert_eq!(
                unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) },
                0,
                "setns {path}"
            );
            let mut next = Instant::now();
            let mut n = 0;
            while !stopped.load(Ordering::Relaxed) {
                let at = Instant::now();
                let outcome = attempt(n);
                n += 1;
                collected
                    .lock()
                    .expect("samples")
                    .push(Sample { at, outcome });
                next += interval;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
        });
        Self {
            stop,
            samples,
            thread: Some(thread),
        }
    }

    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().expect("samples").clone()
    }

    /// Waits until a good reply satisfying `want` comes after `after`.
    pub fn wait_for(&self, after: Instant, timeout: Duration, want: impl Fn(&str) -> bool) -> bool {
        crate::wait_until(timeout, || {
            self.samples()
                .iter()
                .any(|s| s.at > after && s.outcome.as_ref().is_ok_and(|r| want(r)))
        })
    }

    /// What the client saw from `failure` on: errors, the outage, and when a reply accepted
    /// by `served` came back.
    pub fn outage(&self, failure: Instant, served: impl Fn(&str) -> bool) -> Outage {
        let samples: Vec<Sample> = self
            .samples()
            .into_iter()
            .filter(|s| s.at >= failure)
            .collect();
        let errors = samples.iter().filter(|s| s.outcome.is_err()).count();
        let first_error = samples.iter().find(|s| s.outcome.is_err()).map(|s| s.at);
        let length = first_error
            .and_then(|start| {
                samples
                    .iter()
                    .find(|s| s.at > start && s.outcome.is_ok())
                    .map(|s| s.at - start)
            })
            .unwrap_or_default();
        let served_again_after = samples
            .iter()
            .find(|s| s.outcome.as_ref().is_ok_and(|r| served(r)))
            .map(|s| s.at - failure);
        Outage {
            errors,
            length,
            served_again_after,
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect_timeout(&addr, ATTEMPT_TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(ATTEMPT_TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(ATTEMPT_TIMEOUT))
        .map_err(|e| e.to_string())?;
    Ok(stream)
}

/// One HTTP/1.0 GET; the body of a 200 response.
pub fn http_get(addr: SocketAddr) -> Result<String, String> {
    let mut stream = connect(addr)?;
    stream
        .write_all(format!("GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP response")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(head.lines().next().unwrap_or_default().to_owned());
    }
    Ok(body.trim().to_owned())
}

/// One redis command in RESP; the reply's first line (a bulk string's value for GET).
pub fn redis_command(stream: &mut TcpStream, words: &[&str]) -> Result<String, String> {
    let mut request = format!("*{}\r\n", words.len());
    for word in words {
        request.push_str(&format!("${}\r\n{word}\r\n", word.len()));
    }
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let line = read_line(stream)?;
    if let Some(length) = line.strip_prefix('$') {
        let length: i64 = length.parse().map_err(|_| format!("bad reply {line}"))?;
        if length < 0 {
            return Ok("(nil)".to_owned());
        }
        return read_line(stream);
    }
    Ok(line)
}

fn read_line(stream: &mut TcpStream) -> Result<String, String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(0) => return Err("connection closed".to_owned()),
            Ok(_) => {
                if byte[0] == b'\n' {
                    break;
                }
                line.push(byte[0]);
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(String::from_utf8_lossy(&line).trim_end().to_owned())
}

/// One redis command on a fresh connection, from inside `netns`.
pub fn redis(netns: &Netns, addr: SocketAddr, words: &[&str]) -> Result<String, String> {
    let words: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
    netns
        .run_in(move || {
            let mut stream = connect(addr)?;
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            redis_command(&mut stream, &words)
        })
        .map_err(|e| e.to_string())?
}
