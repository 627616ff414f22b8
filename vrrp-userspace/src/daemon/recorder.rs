//! The flight recorder: every engine input with its CLOCK_MONOTONIC time, as JSON lines that
//! `xvrrpd replay` (and the golden tests) read back. Started with `--record-events FILE` or
//! `xvrrpd record start FILE`; the first line holds every instance's resolved settings, so a
//! recording replays on any machine without the configuration or the host.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use crate::engine::replay::{entry_line, setup_line};
use crate::engine::{InstanceConfig, JournalEntry, SyncGroupConfig};

pub struct Recorder {
    file: BufWriter<File>,
    path: PathBuf,
    names: Vec<String>,
}

impl Recorder {
    pub fn start(
        path: &Path,
        configs: &[InstanceConfig],
        groups: &[SyncGroupConfig],
    ) -> std::io::Result<Self> {
        let mut file = BufWriter::new(File::create(path)?);
        writeln!(file, "{}", setup_line(configs, groups))?;
        file.flush()?;
        Ok(Self {
            file,
            path: path.to_owned(),
            names: configs.iter().map(|c| c.name().to_owned()).collect(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `entries` and flushes: a crash loses nothing already handled.
    pub fn write(&mut self, entries: &[JournalEntry]) -> std::io::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        for entry in entries {
            writeln!(self.file, "{}", entry_line(entry, &mut self.names))?;
        }
        self.file.flush()
    }
}
