//! `track_file`: the number in a file, watched with inotify on the file's directory (so a file
//! created, rewritten, renamed into place or deleted is seen at once), read as keepalived 2.2.7
//! reads it (trackers/track_file.c): `strtol(buf, NULL, 0)` of the first 127 bytes, 0 for a
//! missing or empty file or one without a number, a value beyond 32 bits ignored. The engine
//! multiplies it by each instance's weight ([`crate::engine::Event::TrackerValue`]).

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::{self, Read as _};
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use tokio::io::unix::AsyncFd;
use tracing::{info, warn};

use super::child::readable;
use crate::config::model::TrackFile;
use crate::engine::TrackerId;

/// One tracked file.
#[derive(Clone, Debug)]
pub struct FileSpec {
    pub tracker: TrackerId,
    pub name: String,
    pub path: PathBuf,
    /// `init_file [VALUE] [overwrite]`.
    pub init: Option<(i64, bool)>,
}

impl FileSpec {
    pub fn new(tracker: TrackerId, file: &TrackFile) -> Self {
        Self {
            tracker,
            name: file.name.clone(),
            path: PathBuf::from(&file.file),
            init: file.init_file,
        }
    }
}

/// A new value of a tracked file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileValue {
    pub tracker: TrackerId,
    pub value: i64,
}

struct Watched {
    spec: FileSpec,
    /// The file's name in its directory (inotify reports names).
    file_name: Vec<u8>,
    wd: i32,
    value: i64,
}

/// The inotify watches of every tracked file.
pub struct FileWatch {
    inotify: Option<AsyncFd<OwnedFd>>,
    files: Vec<Watched>,
}

impl FileWatch {
    /// Creates the `init_file`s, starts watching, and returns the current values (to give the
    /// engine before the instances start).
    pub fn start(specs: Vec<FileSpec>) -> io::Result<(Self, Vec<FileValue>)> {
        if specs.is_empty() {
            return Ok((
                Self {
                    inotify: None,
                    files: Vec::new(),
                },
                Vec::new(),
            ));
        }
        // SAFETY: inotify_init1 returns a new descriptor or -1.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut files = Vec::new();
        let mut initial = Vec::new();
        for mut spec in specs {
            initialise(&spec);
            // keepalived resolves the path (and, for a missing file, its directory) once.
            let resolved = match resolve(&spec.path) {
                Some(path) => path,
                None => {
                    warn!(track_file = %spec.name, file = %spec.path.display(), "the directory of the tracked file does not exist; the file is not tracked (keepalived does the same)");
                    continue;
                }
            };
            spec.path = resolved;
            let (Some(dir), Some(file_name)) = (spec.path.parent(), spec.path.file_name()) else {
                continue;
            };
            let dir_c = CString::new(dir.as_os_str().as_bytes())
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
            // SAFETY: adding a watch on a NUL-terminated path.
            let wd = unsafe {
                libc::inotify_add_watch(
                    fd.as_raw_fd(),
                    dir_c.as_ptr(),
                    libc::IN_CLOSE_WRITE
                        | libc::IN_DELETE
                        | libc::IN_MOVED_FROM
                        | libc::IN_MOVED_TO,
                )
            };
            if wd < 0 {
                let e = io::Error::last_os_error();
                warn!(track_file = %spec.name, dir = %dir.display(), error = %e, "cannot watch the tracked file's directory; the file is not tracked");
                continue;
            }
            let value = read_value(&spec.path).unwrap_or(0);
            info!(track_file = %spec.name, file = %spec.path.display(), value, "tracking file");
            initial.push(FileValue {
                tracker: spec.tracker,
                value,
            });
            files.push(Watched {
                file_name: file_name.as_bytes().to_vec(),
                spec,
                wd,
                value,
            });
        }
        Ok((
            Self {
                inotify: Some(readable(fd)?),
                files,
            },
            initial,
        ))
    }

    /// The next changes (a file written, renamed into place or deleted).
    pub async fn next(&mut self) -> io::Result<Vec<FileValue>> {
        let Some(inotify) = &self.inotify else {
            return std::future::pending().await;
        };
        loop {
            let mut guard = inotify.readable().await?;
            let mut buffer = [0u8; 4096];
            let read = guard.try_io(|fd| {
                // SAFETY: reading into a buffer we own, within its length.
                let n =
                    unsafe { libc::read(fd.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len()) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            let n = match read {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            };
            let mut touched: BTreeMap<usize, bool> = BTreeMap::new();
            for (wd, mask, name) in events(&buffer[..n]) {
                if mask & libc::IN_ISDIR != 0 {
                    continue;
                }
                for (index, file) in self.files.iter().enumerate() {
                    if file.wd == wd && file.file_name == name {
                        // keepalived: a deleted or moved-away file counts as 0.
                        let gone = mask & (libc::IN_DELETE | libc::IN_MOVED_FROM) != 0;
                        touched.insert(index, gone);
                    }
                }
            }
            let mut changes = Vec::new();
            for (index, gone) in touched {
                let file = &mut self.files[index];
                let value = if gone {
                    Some(0)
                } else {
                    read_value(&file.spec.path)
                };
                let Some(value) = value else {
                    warn!(track_file = %file.spec.name, "the tracked file holds a number beyond 32 bits; ignored (keepalived does the same)");
                    continue;
                };
                if value != file.value {
                    info!(track_file = %file.spec.name, from = file.value, to = value, "tracked file changed");
                    file.value = value;
                    changes.push(FileValue {
                        tracker: file.spec.tracker,
                        value,
                    });
                }
            }
            if !changes.is_empty() {
                return Ok(changes);
            }
        }
    }
}

/// `init_file`: writes the value when the file does not exist, or always with `overwrite`
/// (keepalived's track_file_end_handler).
fn initialise(spec: &FileSpec) {
    let Some((value, overwrite)) = spec.init else {
        return;
    };
    match std::fs::symlink_metadata(&spec.path) {
        Ok(_) if !overwrite => return,
        Ok(meta) if !meta.is_file() => {
            warn!(track_file = %spec.name, "cannot initialise the tracked file: it is not a regular file");
            return;
        }
        _ => {}
    }
    if let Err(e) = std::fs::write(&spec.path, format!("{value}\n")) {
        warn!(track_file = %spec.name, file = %spec.path.display(), error = %e, "cannot initialise the tracked file");
    }
}

/// The file's path with its directory resolved (the file itself may not exist yet).
fn resolve(path: &Path) -> Option<PathBuf> {
    if let Ok(real) = std::fs::canonicalize(path) {
        return Some(real);
    }
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let dir = std::fs::canonicalize(dir).ok()?;
    dir.is_dir().then(|| dir.join(name))
}

/// The file's value: 0 when it cannot be read or holds no number; `None` beyond 32 bits.
pub fn read_value(path: &Path) -> Option<i64> {
    let mut buffer = [0u8; 127];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut buffer))
        .unwrap_or(0);
    parse_value(&buffer[..n])
}

/// C's `strtol(text, NULL, 0)` as keepalived uses it: leading blanks, a sign, `0x` for hex, a
/// leading `0` for octal, digits up to the first that does not fit; nothing parsed is 0. A value
/// outside `i32::MIN..=i32::MAX + 1` is rejected (`None`).
pub fn parse_value(text: &[u8]) -> Option<i64> {
    let mut rest = text;
    while let [b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c, tail @ ..] = rest {
        rest = tail;
    }
    let negative = match rest {
        [b'-', tail @ ..] => {
            rest = tail;
            true
        }
        [b'+', tail @ ..] => {
            rest = tail;
            false
        }
        _ => false,
    };
    let radix = match rest {
        [b'0', b'x' | b'X', d, ..] if d.is_ascii_hexdigit() => {
            rest = &rest[2..];
            16
        }
        [b'0', ..] => 8,
        _ => 10,
    };
    let mut value: i128 = 0;
    for &byte in rest {
        let Some(digit) = (byte as char).to_digit(radix) else {
            break;
        };
        value = value * i128::from(radix) + i128::from(digit);
        if value > i128::from(i64::MAX) + 1 {
            // strtol saturates (ERANGE): rejected below either way.
            break;
        }
    }
    let value = if negative { -value } else { value };
    (i128::from(i32::MIN)..=i128::from(i32::MAX) + 1)
        .contains(&value)
        .then_some(value as i64)
}

/// (watch descriptor, mask, name) of each inotify event in a buffer.
fn events(buffer: &[u8]) -> Vec<(i32, u32, Vec<u8>)> {
    const HEADER: usize = std::mem::size_of::<libc::inotify_event>();
    let mut out = Vec::new();
    let mut offset = 0;
    while offset + HEADER <= buffer.len() {
        let wd = i32::from_ne_bytes(buffer[offset..offset + 4].try_into().expect("4 bytes"));
        let mask = u32::from_ne_bytes(buffer[offset + 4..offset + 8].try_into().expect("4 bytes"));
        let len = u32::from_ne_bytes(
            buffer[offset + 12..offset + 16]
                .try_into()
                .expect("4 bytes"),
        ) as usize;
        let name_end = (offset + HEADER + len).min(buffer.len());
        let name = &buffer[offset + HEADER..name_end];
        let name = name.split(|&b| b == 0).next().unwrap_or_default().to_vec();
        out.push((wd, mask, name));
        offset += HEADER + len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_like_strtol_base_0() {
        assert_eq!(parse_value(b"42\n"), Some(42));
        assert_eq!(parse_value(b"  -7 apples"), Some(-7));
        assert_eq!(parse_value(b"0x10"), Some(16));
        assert_eq!(parse_value(b"010"), Some(8));
        assert_eq!(parse_value(b"09"), Some(0), "octal stops at 9");
        assert_eq!(parse_value(b""), Some(0));
        assert_eq!(parse_value(b"abc"), Some(0));
        assert_eq!(parse_value(b"+5"), Some(5));
        assert_eq!(parse_value(b"2147483648"), Some(2_147_483_648));
        assert_eq!(parse_value(b"2147483649"), None);
        assert_eq!(parse_value(b"-2147483649"), None);
    }

    #[test]
    fn changes_are_seen_through_inotify() {
        let dir = std::env::temp_dir().join(format!("xvrrpd-trackfile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("weight");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let spec = FileSpec {
                tracker: TrackerId(3),
                name: "f".into(),
                path: path.clone(),
                init: Some((5, false)),
            };
            let (mut watch, initial) = FileWatch::start(vec![spec]).unwrap();
            assert_eq!(
                initial,
                [FileValue {
                    tracker: TrackerId(3),
                    value: 5
                }],
                "init_file wrote 5"
            );
            std::fs::write(&path, "-3\n").unwrap();
            let changes = watch.next().await.unwrap();
            assert_eq!(changes[0].value, -3);
            // Renamed into place.
            std::fs::write(dir.join("tmp"), "9").unwrap();
            std::fs::rename(dir.join("tmp"), &path).unwrap();
            assert_eq!(watch.next().await.unwrap()[0].value, 9);
            std::fs::remove_file(&path).unwrap();
            assert_eq!(
                watch.next().await.unwrap()[0].value,
                0,
                "deleted counts as 0"
            );
        });
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
