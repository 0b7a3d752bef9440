//! Which watch dirs to poll under `poll: auto`: a pure decision over the
//! text of `/proc/self/mountinfo` and a path, made once at start on the
//! watcher's calling thread.
//!
//! Network and bridged filesystems take changes made on the other side
//! (the NFS server, Windows under WSL, the host of a Docker VM) without
//! any inotify event here, so only polling sees them.

use std::path::{Path, PathBuf};

/// Why a watch dir is polled: the filesystem type and mount point that
/// decided it, for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Remote {
    /// The filesystem type as mountinfo names it (`nfs4`, `fuse.grpcfuse`).
    pub(crate) fstype: String,
    /// The mount point the path is under.
    pub(crate) mount: PathBuf,
    /// What kind of filesystem that is, in words.
    pub(crate) what: &'static str,
}

/// The filesystem types that deliver no events for changes made elsewhere,
/// with how the log names them; `None` for the rest (native events).
pub(crate) fn remote_kind(fstype: &str) -> Option<&'static str> {
    Some(match fstype {
        "nfs" | "nfs4" => "a network share (NFS)",
        "cifs" | "smb3" | "smbfs" => "a network share (SMB/CIFS)",
        "9p" => "a 9p share (WSL 2 or a VM)",
        "virtiofs" => "a virtiofs share (a VM or Docker Desktop)",
        "drvfs" => "a Windows drive under WSL (drvfs)",
        "fuse" | "fuseblk" => "a FUSE filesystem",
        _ if fstype.starts_with("fuse.") => "a FUSE filesystem",
        _ => return None,
    })
}

/// Decides for `path` (absolute, best canonical) from `mountinfo`: the
/// mount with the longest mount point that holds it decides. `Some` when
/// that mount is of a type without native events there.
pub(crate) fn decide(mountinfo: &str, path: &Path) -> Option<Remote> {
    let (mount, fstype) = mountinfo
        .lines()
        .filter_map(parse_line)
        .filter(|(mount, _)| path.starts_with(mount))
        // The last of equal length wins: a later mount on the same point
        // hides the earlier one.
        .fold(
            None::<(PathBuf, String)>,
            |best, (mount, fstype)| match best {
                Some((ref b, _)) if b.components().count() > mount.components().count() => best,
                _ => Some((mount, fstype)),
            },
        )?;
    let what = remote_kind(&fstype)?;
    Some(Remote {
        fstype,
        mount,
        what,
    })
}

/// The mount point and filesystem type of one mountinfo line:
/// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw`
/// (proc(5)): field 5 is the mount point, and the type follows the `-`
/// that ends the optional fields.
fn parse_line(line: &str) -> Option<(PathBuf, String)> {
    let mut fields = line.split(' ');
    let mount = fields.nth(4)?;
    let fstype = fields.skip_while(|f| *f != "-").nth(1)?;
    Some((PathBuf::from(unescape(mount)), fstype.to_string()))
}

/// The kernel writes a space, tab, newline and backslash in a mount point
/// as `\040`, `\011`, `\012` and `\134`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                let n = d.iter().fold(0u32, |n, c| n * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(n).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path to decide on for a watch dir: its canonical path (a symbolic
/// link may lead onto another mount), or for one that does not exist yet,
/// its deepest existing ancestor's canonical path with the rest added.
pub(crate) fn real_path(path: &Path) -> PathBuf {
    for ancestor in path.ancestors() {
        if let Ok(real) = ancestor.canonicalize() {
            let rest = path.strip_prefix(ancestor).unwrap_or(Path::new(""));
            return real.join(rest);
        }
    }
    path.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A machine with a bit of everything: WSL's drive, Docker Desktop's
    /// shares, an NFS home, a FUSE mount with a space in its name.
    const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 22 0:22 / /tmp rw,nosuid,nodev shared:5 - tmpfs tmpfs rw
80 22 0:50 / /mnt/c rw,noatime - 9p drvfs rw,dirsync,aname=drvfs;path=C:\\;uid=1000
81 22 0:51 / /mnt/d rw,noatime - drvfs D:\\ rw
90 22 0:60 / /home/me rw,relatime shared:40 - nfs4 server:/export/me rw,vers=4.2
91 90 8:2 / /home/me/local rw,relatime shared:41 - ext4 /dev/sdb1 rw
100 22 0:70 /Users/me/site /app rw,relatime - fuse.grpcfuse grpcfuse rw,user_id=0
101 22 0:71 / /work/shared rw,relatime - virtiofs myfs rw
110 22 0:80 / /media/my\\040disk rw,nosuid - fuseblk /dev/sdc1 rw
111 22 0:81 / /srv/smb rw - cifs //nas/share rw
112 22 0:82 / /srv/old rw - nfs nas:/old rw
113 22 0:83 / /srv/tab\\011name rw - ext4 /dev/sdd1 rw
";

    fn polled(path: &str) -> Option<(String, String)> {
        decide(MOUNTINFO, Path::new(path)).map(|r| (r.fstype, r.mount.display().to_string()))
    }

    #[test]
    fn the_longest_mount_point_that_holds_the_path_decides() {
        #[rustfmt::skip]
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            // An ext4 root and tmpfs: native.
            ("/home/other/site", None),
            ("/", None),
            ("/tmp/x", None),
            // WSL: Windows drives, by 9p (WSL 2) or drvfs (WSL 1).
            ("/mnt/c/Users/me/site", Some(("9p", "/mnt/c"))),
            ("/mnt/d", Some(("drvfs", "/mnt/d"))),
            // A prefix of the text is not a prefix of the path.
            ("/mnt/cd/site", None),
            // NFS home, with a local disk mounted inside it.
            ("/home/me/site", Some(("nfs4", "/home/me"))),
            ("/home/me/local/site", None),
            ("/srv/old/x", Some(("nfs", "/srv/old"))),
            ("/srv/smb/x", Some(("cifs", "/srv/smb"))),
            // Docker Desktop: a bind mount from macOS, a virtiofs share.
            ("/app/css", Some(("fuse.grpcfuse", "/app"))),
            ("/work/shared/SPEC.md", Some(("virtiofs", "/work/shared"))),
            ("/work/main", None),
            // Octal escapes in mount points: a space, a tab.
            ("/media/my disk/site", Some(("fuseblk", "/media/my disk"))),
            ("/media/my\\040disk/site", None),
            ("/srv/tab\tname/x", None),
        ];
        for (path, want) in cases {
            let want = want.map(|(t, m)| (t.to_string(), m.to_string()));
            assert_eq!(polled(path), want, "for {path}");
        }
    }

    #[test]
    fn the_types_without_events_from_the_other_side() {
        for t in [
            "nfs",
            "nfs4",
            "cifs",
            "smb3",
            "smbfs",
            "9p",
            "virtiofs",
            "fuse",
            "fuseblk",
            "fuse.sshfs",
            "drvfs",
        ] {
            assert!(remote_kind(t).is_some(), "{t} is polled");
        }
        for t in [
            "ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", "fusectl", "proc",
        ] {
            assert!(remote_kind(t).is_none(), "{t} is native");
        }
    }

    #[test]
    fn a_later_mount_on_the_same_point_hides_the_earlier() {
        let text = "1 0 8:1 / /data rw - nfs4 a:/b rw\n2 1 8:2 / /data rw - ext4 /dev/x rw\n";
        assert_eq!(decide(text, Path::new("/data/x")), None);
        let text = "1 0 8:1 / /data rw - ext4 /dev/x rw\n2 1 8:2 / /data rw - nfs4 a:/b rw\n";
        assert!(decide(text, Path::new("/data/x")).is_some());
    }

    #[test]
    fn lines_that_are_not_mountinfo_are_skipped() {
        for text in ["", "garbage\n", "1 2 3\n", "1 0 8:1 / /x rw no-dash nfs\n"] {
            assert_eq!(decide(text, Path::new("/x/y")), None, "for {text:?}");
        }
    }

    #[test]
    fn escapes_decode_and_stray_backslashes_stay() {
        assert_eq!(unescape("/a\\040b\\134c\\011d"), "/a b\\c\td");
        assert_eq!(unescape("/a\\x\\04"), "/a\\x\\04");
    }

    #[test]
    fn a_missing_dir_is_decided_by_its_existing_ancestor() {
        let dir = tempfile::tempdir().expect("temp dir");
        let real = dir.path().canonicalize().expect("canonical");
        let missing = dir.path().join("not/yet");
        assert_eq!(real_path(&missing), real.join("not/yet"));
    }

    /// Where this machine has a real share (FUSE, 9p, NFS...), a folder on
    /// it is decided polled from the real mountinfo; nothing is mounted
    /// for the test, so without one it says why it checks nothing.
    #[test]
    fn a_real_share_on_this_machine_is_polled() {
        let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
            eprintln!("skipped: /proc/self/mountinfo cannot be read here");
            return;
        };
        let shares: Vec<(PathBuf, String)> = (text.lines())
            .filter_map(parse_line)
            .filter(|(mount, fstype)| remote_kind(fstype).is_some() && mount.is_dir())
            .collect();
        if shares.is_empty() {
            eprintln!("skipped: no FUSE, 9p, virtiofs, NFS, SMB or drvfs mount on this machine");
            return;
        }
        for (mount, fstype) in shares {
            let real = real_path(&mount);
            let decided = decide(&text, &real);
            // A share mounted over by a local filesystem is native: fine.
            if let Some(remote) = decided {
                eprintln!("{} is {fstype}: polled as {}", mount.display(), remote.what);
            }
        }
    }
}
