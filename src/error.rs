//! The crate's one error type, worded for the person who has to act on it.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong when starting or stopping hot reload.
///
/// Every variant's `Display` says what failed, on what, and what to do next,
/// so a binary can print it as it is. Runtime trouble after startup (a client
/// that vanished, a file deleted mid-scan) is logged through `log` instead.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `config.yaml` (or a value given in its place) is not usable.
    Config {
        /// The file the value came from (`<command line>` for flags).
        file: PathBuf,
        /// 1-based line of the offending value, when known.
        line: Option<usize>,
        /// 1-based column of the offending value, when known.
        column: Option<usize>,
        /// Dotted key, such as `hot_reload.debounce_ms`, when one is at fault.
        key: Option<String>,
        /// What is wrong, in a sentence.
        problem: String,
        /// What to change to make it right.
        fix: String,
    },
    /// A file or directory could not be read or written.
    Io {
        /// What we were doing, such as "read the config file".
        action: String,
        /// The path involved.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The HTTP server could not listen on the address.
    Bind {
        /// The address, such as `127.0.0.1:8080`.
        addr: String,
        /// The operating system's error.
        source: io::Error,
    },
    /// The file watcher could not be started at all.
    Watch {
        /// What failed.
        problem: String,
        /// What to do about it.
        fix: String,
    },
    /// A thread could not be spawned, or one of ours panicked.
    Thread {
        /// The thread's name, such as `hotreload-watcher`.
        name: String,
        /// What happened to it.
        problem: String,
    },
}

impl Error {
    /// A configuration error with no known position, for values checked after
    /// parsing (or given on the command line).
    pub(crate) fn config(
        file: impl Into<PathBuf>,
        key: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Error {
        Error::Config {
            file: file.into(),
            line: None,
            column: None,
            key: Some(key.into()),
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    /// True for errors the user fixes by changing their config or flags; the
    /// binary exits with status 2 for these and 1 for everything else.
    pub fn is_config(&self) -> bool {
        matches!(self, Error::Config { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config {
                file,
                line,
                column,
                key,
                problem,
                fix,
            } => {
                write!(f, "{}", file.display())?;
                if let Some(line) = line {
                    write!(f, ":{line}")?;
                    if let Some(column) = column {
                        write!(f, ":{column}")?;
                    }
                }
                write!(f, ": ")?;
                if let Some(key) = key {
                    write!(f, "`{key}`: ")?;
                }
                write!(f, "{problem}\n  fix: {fix}")
            }
            Error::Io {
                action,
                path,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
            Error::Bind { addr, source } => {
                write!(f, "cannot listen on {addr}: {source}")?;
                if source.kind() == io::ErrorKind::AddrInUse {
                    write!(
                        f,
                        "\n  fix: another program uses that port; pick another with --port, or --port 0 for any free one"
                    )?;
                } else if source.kind() == io::ErrorKind::AddrNotAvailable {
                    write!(
                        f,
                        "\n  fix: that address is not one of this machine's; use --host 127.0.0.1"
                    )?;
                }
                Ok(())
            }
            Error::Watch { problem, fix } => write!(f, "{problem}\n  fix: {fix}"),
            Error::Thread { name, problem } => write!(f, "thread {name}: {problem}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } | Error::Bind { source, .. } => Some(source),
            _ => None,
        }
    }
}
