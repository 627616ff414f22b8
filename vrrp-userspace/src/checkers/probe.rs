//! One probe of each kind, as keepalived 2.2.7 does it: TCP connect (`check_tcp.c`), a script
//! and its exit code (`check_misc.c`), ICMP echo (`check_ping.c`), UDP with ICMP errors
//! (`check_udp.c`, `layer4.c`), a DNS query (`check_dns.c`), an SMTP greeting and HELO
//! (`check_smtp.c`); HTTP in `http.rs`.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use tokio::time::timeout;

use super::{CheckKind, CheckSpec, MiscSpec, Outcome, UdpSpec};

fn down(reason: impl Into<String>) -> Outcome {
    Outcome::Down {
        reason: reason.into(),
    }
}

const UP: Outcome = Outcome::Up { weight: None };

/// Runs one probe of `spec`. `misc_default_timeout` is the virtual server's `delay_loop`.
pub async fn run(spec: &CheckSpec, misc_default_timeout: Duration) -> Outcome {
    let target = SocketAddr::new(spec.target.0, spec.target.1);
    match &spec.kind {
        CheckKind::Tcp => match timeout(spec.connect_timeout, tcp(target, spec.bindto)).await {
            Err(_) => down("TCP connection timeout"),
            Ok(Err(e)) => down(format!("TCP connection failed: {e}")),
            Ok(Ok(_)) => UP,
        },
        CheckKind::Http(http) => {
            super::http::check(http, target, spec.bindto, spec.connect_timeout).await
        }
        CheckKind::Misc(misc) => misc_check(misc, misc_default_timeout).await,
        CheckKind::Ping => match ping(spec.target.0, spec.connect_timeout).await {
            Ok(()) => UP,
            Err(e) => down(format!("ICMP echo: {e}")),
        },
        CheckKind::Udp(udp) => udp_check(udp, target, spec.bindto, spec.connect_timeout).await,
        CheckKind::Dns { query_type, name } => {
            match dns(target, query_type, name, spec.connect_timeout).await {
                Ok(()) => UP,
                Err(e) => down(format!("DNS: {e}")),
            }
        }
        CheckKind::Smtp { helo_name } => {
            match timeout(
                spec.connect_timeout * 4,
                smtp(target, spec.bindto, helo_name, spec.connect_timeout),
            )
            .await
            {
                Err(_) => down("SMTP timeout"),
                Ok(Err(e)) => down(format!("SMTP: {e}")),
                Ok(Ok(())) => UP,
            }
        }
    }
}

async fn tcp(target: SocketAddr, bindto: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let socket = if target.is_ipv6() {
        TcpSocket::new_v6()?
    } else {
        TcpSocket::new_v4()?
    };
    if let Some(addr) = bindto {
        socket.bind(SocketAddr::new(addr, 0))?;
    }
    socket.connect(target).await
}

/// keepalived: exit 0 is success; with `misc_dynamic`, 2..255 is success with weight
/// code - 2; anything else, a signal or the timeout is a failure.
async fn misc_check(spec: &MiscSpec, default_timeout: Duration) -> Outcome {
    let Some((program, args)) = spec.command.argv.split_first() else {
        return down("empty misc_path");
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return down(format!("cannot run {program}: {e}")),
    };
    let limit = spec.timeout.unwrap_or(default_timeout);
    match timeout(limit, child.wait()).await {
        Err(_) => {
            if let Some(pid) = child.id() {
                // SAFETY: the script leads its own process group (process_group(0)).
                unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
            }
            let _ = child.wait().await;
            down("timed out")
        }
        Ok(Err(e)) => down(format!("waiting for {program}: {e}")),
        Ok(Ok(status)) => match status.code() {
            Some(0) => Outcome::Up { weight: None },
            Some(code @ 2..=255) if spec.dynamic => Outcome::Up {
                weight: Some(code as u32 - 2),
            },
            Some(code) => down(format!("exited with status {code}")),
            None => down("killed by a signal"),
        },
    }
}

/// A raw ICMP/ICMPv6 socket, non-blocking, registered with tokio.
fn raw_icmp(ipv6: bool) -> std::io::Result<AsyncFd<OwnedFd>> {
    let (domain, protocol) = if ipv6 {
        (libc::AF_INET6, libc::IPPROTO_ICMPV6)
    } else {
        (libc::AF_INET, libc::IPPROTO_ICMP)
    };
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let fd = unsafe {
        libc::socket(
            domain,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            protocol,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a descriptor we just created and own; it stays open as long as the AsyncFd.
    Ok(unsafe { AsyncFd::register(OwnedFd::from_raw_fd(fd)) }?)
}

fn icmp_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32)
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One echo request, answered within `limit` (keepalived's PING_CHECK).
pub async fn ping(target: IpAddr, limit: Duration) -> std::io::Result<()> {
    let ipv6 = target.is_ipv6();
    let socket = raw_icmp(ipv6)?;
    let ident = (std::process::id() as u16) ^ (rand_u16());
    let mut packet = vec![if ipv6 { 128 } else { 8 }, 0, 0, 0];
    packet.extend(ident.to_be_bytes());
    packet.extend(1u16.to_be_bytes());
    packet.extend(*b"xvrrpd PING_CHECK");
    if !ipv6 {
        // The kernel fills in the ICMPv6 checksum; ICMPv4's is ours.
        let checksum = icmp_checksum(&packet);
        packet[2..4].copy_from_slice(&checksum.to_be_bytes());
    }
    let addr = socket2_addr(SocketAddr::new(target, 0));
    // SAFETY: sendto with a buffer and a sockaddr of the right length.
    let sent = unsafe {
        libc::sendto(
            socket.get_ref().as_raw_fd(),
            packet.as_ptr().cast(),
            packet.len(),
            0,
            (&raw const addr.0).cast(),
            addr.1,
        )
    };
    if sent < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let wait = async {
        let mut buf = [0u8; 1500];
        loop {
            let mut guard = socket.readable().await?;
            let mut from: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            let mut from_len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            // SAFETY: recvfrom into buffers we own.
            let n = unsafe {
                libc::recvfrom(
                    socket.get_ref().as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&raw mut from).cast(),
                    &mut from_len,
                )
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::WouldBlock {
                    guard.clear_ready();
                    continue;
                }
                return Err(e);
            }
            let data = &buf[..n as usize];
            // IPv4 raw sockets deliver the IP header too.
            let icmp = if ipv6 {
                data
            } else {
                let ihl = (data.first().copied().unwrap_or(0x45) & 0x0f) as usize * 4;
                data.get(ihl..).unwrap_or(&[])
            };
            let reply_type = if ipv6 { 129 } else { 0 };
            if icmp.len() >= 8
                && icmp[0] == reply_type
                && u16::from_be_bytes([icmp[4], icmp[5]]) == ident
                && sockaddr_ip(&from) == Some(target)
            {
                return Ok(());
            }
        }
    };
    timeout(limit, wait)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no echo reply"))?
}

fn rand_u16() -> u16 {
    let mut bytes = [0u8; 2];
    // SAFETY: getrandom into a 2-byte buffer.
    unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), 2, 0) };
    u16::from_ne_bytes(bytes)
}

fn socket2_addr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: zeroes are a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as u16,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            unsafe { std::ptr::write((&raw mut storage).cast(), sin) };
            (storage, size_of::<libc::sockaddr_in>() as libc::socklen_t)
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as u16,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            unsafe { std::ptr::write((&raw mut storage).cast(), sin6) };
            (storage, size_of::<libc::sockaddr_in6>() as libc::socklen_t)
        }
    }
}

fn sockaddr_ip(storage: &libc::sockaddr_storage) -> Option<IpAddr> {
    match storage.ss_family as i32 {
        libc::AF_INET => {
            // SAFETY: the family says it is a sockaddr_in.
            let sin: &libc::sockaddr_in = unsafe { &*(storage as *const _ as *const _) };
            Some(IpAddr::from(sin.sin_addr.s_addr.to_ne_bytes()))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says it is a sockaddr_in6.
            let sin6: &libc::sockaddr_in6 = unsafe { &*(storage as *const _ as *const _) };
            Some(IpAddr::from(sin6.sin6_addr.s6_addr))
        }
        _ => None,
    }
}

async fn bound_udp(target: SocketAddr, bindto: Option<IpAddr>) -> std::io::Result<UdpSocket> {
    let local = match (bindto, target) {
        (Some(addr), _) => SocketAddr::new(addr, 0),
        (None, SocketAddr::V4(_)) => "0.0.0.0:0".parse().expect("valid"),
        (None, SocketAddr::V6(_)) => "[::]:0".parse().expect("valid"),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(target).await?;
    Ok(socket)
}

/// keepalived's UDP_CHECK: an ICMP error (ECONNREFUSED on the connected socket) fails it;
/// silence until the timeout passes it unless `require_reply`.
async fn udp_check(
    spec: &UdpSpec,
    target: SocketAddr,
    bindto: Option<IpAddr>,
    limit: Duration,
) -> Outcome {
    let socket = match bound_udp(target, bindto).await {
        Ok(socket) => socket,
        Err(e) => return down(format!("UDP socket: {e}")),
    };
    // keepalived sends a fixed pattern when no payload is configured.
    let default_payload: Vec<u8> = (0..32u8).map(|i| b'a' + i % 26).collect();
    let payload = spec.payload.as_deref().unwrap_or(&default_payload);
    if let Err(e) = socket.send(payload).await {
        return down(format!("UDP send: {e}"));
    }
    let mut buf = vec![0u8; spec.max_reply.max(1) + 1];
    match timeout(limit, socket.recv(&mut buf)).await {
        Err(_) if spec.require_reply => down("no reply"),
        Err(_) => UP,
        Ok(Err(e)) => down(format!("UDP: {e}")),
        Ok(Ok(n)) => {
            if !spec.require_reply {
                return UP;
            }
            if n < spec.min_reply || n > spec.max_reply {
                return down(format!("reply of {n} bytes"));
            }
            if let Some(expected) = &spec.reply {
                let check = expected.len().min(n);
                if buf[..check] != expected[..check] {
                    return down("reply data mismatch");
                }
            }
            UP
        }
    }
}

fn dns_type(name: &str) -> u16 {
    match name {
        "A" => 1,
        "NS" => 2,
        "CNAME" => 5,
        "MX" => 15,
        "TXT" => 16,
        "AAAA" => 28,
        "RRSIG" => 46,
        "DNSKEY" => 48,
        _ => 6,
    }
}

/// keepalived's DNS_CHECK: a recursive query (RD) for `name`/`type`; an answer with the
/// query's id, QR set and rcode 0 passes.
async fn dns(
    target: SocketAddr,
    query_type: &str,
    name: &str,
    limit: Duration,
) -> Result<(), String> {
    let socket = bound_udp(target, None).await.map_err(|e| e.to_string())?;
    let id = rand_u16();
    let mut query = Vec::new();
    query.extend(id.to_be_bytes());
    query.extend(0x0100u16.to_be_bytes());
    query.extend([0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        query.push(label.len() as u8);
        query.extend(label.as_bytes());
    }
    query.push(0);
    query.extend(dns_type(query_type).to_be_bytes());
    query.extend(1u16.to_be_bytes());
    socket.send(&query).await.map_err(|e| e.to_string())?;
    let wait = async {
        let mut buf = [0u8; 768];
        loop {
            let n = socket.recv(&mut buf).await.map_err(|e| e.to_string())?;
            if n < 12 || buf[..2] != id.to_be_bytes() || buf[2] & 0x80 == 0 {
                continue;
            }
            let rcode = buf[3] & 0x0f;
            return if rcode == 0 {
                Ok(())
            } else {
                Err(format!("rcode {rcode}"))
            };
        }
    };
    timeout(limit, wait)
        .await
        .map_err(|_| "read timeout".to_string())?
}

/// keepalived's SMTP_CHECK: 220 greeting, `HELO name` answered 250, then QUIT.
async fn smtp(
    target: SocketAddr,
    bindto: Option<IpAddr>,
    helo: &str,
    limit: Duration,
) -> Result<(), String> {
    let stream = timeout(limit, tcp(target, bindto))
        .await
        .map_err(|_| "connect timeout".to_string())?
        .map_err(|e| e.to_string())?;
    let mut stream = BufReader::new(stream);
    let reply = async |stream: &mut BufReader<TcpStream>| -> Result<u16, String> {
        loop {
            let mut line = String::new();
            let n = timeout(limit, stream.read_line(&mut line))
                .await
                .map_err(|_| "read timeout".to_string())?
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed".into());
            }
            // Multi-line replies: "250-..." continues, "250 ..." ends.
            if line.as_bytes().get(3) == Some(&b'-') {
                continue;
            }
            return line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| format!("bad reply {line:?}"));
        }
    };
    let greeting = reply(&mut stream).await?;
    if greeting != 220 {
        return Err(format!("greeting {greeting}"));
    }
    stream
        .get_mut()
        .write_all(format!("HELO {helo}\r\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let helo_reply = reply(&mut stream).await?;
    if helo_reply != 250 {
        return Err(format!("HELO answered {helo_reply}"));
    }
    let _ = stream.get_mut().write_all(b"QUIT\r\n").await;
    Ok(())
}
