//! The files of configMap, secret, downwardAPI and projected volumes, and how
//! they are written, the way Kubernetes' atomic writer lays them out:
//!
//! ```text
//! <volume>/..2026_12_07_22_30_01.123456789/<path>   the files of one version
//! <volume>/..data -> ..2026_12_07_22_30_01.123456789
//! <volume>/<top> -> ..data/<top>                     one link per top-level entry
//! ```
//!
//! An update writes the new version into a new timestamped directory, points
//! a `..data_tmp` link at it and renames that over `..data` (one `rename(2)`),
//! then adds the links of new top-level entries, removes those of entries that
//! went, and removes the old version. A reader that opens `<volume>/<key>`
//! resolves `..data` once and so sees the old set or the new one, never a mix.
//!
//! [`write`] does this on a directory the kubelet can reach (disk-backed
//! volumes under the node root). For tmpfs-backed volumes the same steps run
//! inside the pod's sandbox (see [`crate::pods::volumes`]): [`version_tar`] is the
//! new version as a tar archive and [`swap_script`] the rest as a shell script.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{symlink, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// A volume's content: relative path → bytes and mode.
pub type Payload = BTreeMap<String, File>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub data: Vec<u8>,
    pub mode: u32,
}

/// The link through which every entry is reached.
pub const DATA: &str = "..data";
const DATA_TMP: &str = "..data_tmp";

/// Whether `path` may be written under a volume: relative, no `..` element,
/// not starting with `..` (the writer's own names), no empty element.
pub fn valid_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("invalid path: must not be empty".into());
    }
    if path.starts_with('/') {
        return Err(format!("invalid path {path:?}: must be relative"));
    }
    if path.starts_with("..") {
        return Err(format!("invalid path {path:?}: must not start with '..'"));
    }
    if path.split('/').any(|p| p == ".." || p.is_empty()) {
        return Err(format!("invalid path {path:?}: must not contain '..' or empty elements"));
    }
    Ok(())
}

/// The payload's top-level entries (`a` for `a/b/c`).
pub fn top_level(payload: &Payload) -> BTreeSet<String> {
    payload.keys().map(|p| p.split('/').next().unwrap_or(p).to_string()).collect()
}

/// A version directory's name, from the time of writing, as Kubernetes names them.
pub fn version_name(now: jiff::Timestamp) -> String {
    let t = now.to_zoned(jiff::tz::TimeZone::UTC);
    format!("..{}.{:09}", t.strftime("%Y_%m_%d_%H_%M_%S"), t.subsec_nanosecond())
}

/// Writes `payload` into `dir` atomically; returns whether anything changed
/// (an identical payload leaves the directory untouched).
pub fn write(dir: &Path, payload: &Payload, version: &str) -> io::Result<bool> {
    for path in payload.keys() {
        valid_path(path).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    }
    fs::create_dir_all(dir)?;
    let current = fs::read_link(dir.join(DATA)).ok();
    let tops = top_level(payload);
    if let Some(cur) = &current {
        if same_content(&dir.join(cur), payload)? && tops.iter().all(|t| dir.join(t).symlink_metadata().is_ok()) {
            return Ok(false);
        }
    }
    let new = dir.join(version);
    if new.exists() {
        fs::remove_dir_all(&new)?;
    }
    fs::create_dir(&new)?;
    fs::set_permissions(&new, fs::Permissions::from_mode(0o755))?;
    for (path, file) in payload {
        let target = new.join(path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(file.mode).open(&target)?;
        f.write_all(&file.data)?;
        // The umask may have narrowed the mode given at creation.
        fs::set_permissions(&target, fs::Permissions::from_mode(file.mode))?;
    }
    let tmp = dir.join(DATA_TMP);
    let _ = fs::remove_file(&tmp);
    symlink(version, &tmp)?;
    fs::rename(&tmp, dir.join(DATA))?;
    for top in &tops {
        let link = dir.join(top);
        if link.symlink_metadata().is_err() {
            symlink(format!("{DATA}/{top}"), &link)?;
        }
    }
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("..") {
            if name != DATA && name != version && entry.file_type()?.is_dir() {
                fs::remove_dir_all(entry.path())?;
            }
            continue;
        }
        if !tops.contains(&name) && entry.file_type()?.is_symlink() {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(true)
}

/// Whether the version directory `dir` holds exactly `payload`.
fn same_content(dir: &Path, payload: &Payload) -> io::Result<bool> {
    let mut found = 0;
    if !walk(dir, dir, &mut |rel, path| {
        found += 1;
        let Some(want) = payload.get(rel) else { return Ok(false) };
        let meta = fs::metadata(path)?;
        Ok(meta.permissions().mode() & 0o7777 == want.mode && fs::read(path)? == want.data)
    })? {
        return Ok(false);
    }
    Ok(found == payload.len())
}

/// Calls `f` with each file under `dir` (path relative to `root`); stops at the first false.
fn walk(root: &Path, dir: &Path, f: &mut dyn FnMut(&str, &Path) -> io::Result<bool>) -> io::Result<bool> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            if !walk(root, &path, f)? {
                return Ok(false);
            }
        } else {
            let rel = path.strip_prefix(root).map_err(io::Error::other)?.to_string_lossy().into_owned();
            if !f(&rel, &path)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// The version directory `version` holding `payload`, as a tar archive
/// (ustar: directories 0755, files with their modes, owned by root, modified
/// at `mtime`, in seconds since the epoch).
pub fn version_tar(payload: &Payload, version: &str, mtime: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut dirs = BTreeSet::new();
    dirs.insert(version.to_string());
    for path in payload.keys() {
        let mut parts: Vec<&str> = path.split('/').collect();
        parts.pop();
        for i in 1..=parts.len() {
            dirs.insert(format!("{version}/{}", parts[..i].join("/")));
        }
    }
    for d in &dirs {
        tar_entry(&mut out, &format!("{d}/"), b'5', 0o755, mtime, &[], "");
    }
    for (path, file) in payload {
        tar_entry(&mut out, &format!("{version}/{path}"), b'0', file.mode, mtime, &file.data, "");
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// [`version_tar`] and the links that make it the volume's content: `..data`
/// to `version`, each top-level entry to `..data/<entry>`. This is the whole
/// layout [`write`] leaves in an empty directory, for a volume nothing has
/// written yet, where unpacking it is as good as the swap (over an existing
/// layout it would not be atomic). None when a link's target is too long for
/// a ustar header (100 bytes): such a volume takes the swap.
pub fn layout_tar(payload: &Payload, version: &str, mtime: u64) -> Option<Vec<u8>> {
    let tops = top_level(payload);
    let links: Vec<(String, String)> = std::iter::once((DATA.to_string(), version.to_string()))
        .chain(tops.iter().map(|t| (t.clone(), format!("{DATA}/{t}"))))
        .collect();
    if links.iter().any(|(name, target)| name.len() > 100 || target.len() > 100) {
        return None;
    }
    let mut out = version_tar(payload, version, mtime);
    // Before the two zero blocks that end the archive.
    out.truncate(out.len() - 1024);
    for (name, target) in &links {
        tar_entry(&mut out, name, b'2', 0o777, mtime, &[], target);
    }
    out.extend_from_slice(&[0u8; 1024]);
    Some(out)
}

/// One ustar entry; `link` is a symlink's target (kind `2`), empty otherwise.
fn tar_entry(out: &mut Vec<u8>, name: &str, kind: u8, mode: u32, mtime: u64, data: &[u8], link: &str) {
    let mut header = [0u8; 512];
    let name = name.as_bytes();
    // Names longer than 100 bytes go into the ustar prefix field (split at a '/').
    let (prefix, short) = if name.len() <= 100 {
        (&name[..0], name)
    } else {
        let split = name[..name.len().min(155)].iter().rposition(|&b| b == b'/').unwrap_or(0);
        (&name[..split], &name[split + 1..])
    };
    header[..short.len().min(100)].copy_from_slice(&short[..short.len().min(100)]);
    let octal = |field: &mut [u8], value: u64| {
        let text = format!("{:0width$o}\0", value, width = field.len() - 1);
        field.copy_from_slice(text.as_bytes());
    };
    octal(&mut header[100..108], u64::from(mode));
    octal(&mut header[108..116], 0);
    octal(&mut header[116..124], 0);
    octal(&mut header[124..136], data.len() as u64);
    octal(&mut header[136..148], mtime);
    header[156] = kind;
    header[157..157 + link.len().min(100)].copy_from_slice(&link.as_bytes()[..link.len().min(100)]);
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[345..345 + prefix.len().min(155)].copy_from_slice(&prefix[..prefix.len().min(155)]);
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    header[148..156].copy_from_slice(text.as_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    let pad = (512 - data.len() % 512) % 512;
    out.extend(std::iter::repeat_n(0u8, pad));
}

/// Single-quotes `s` for a POSIX shell.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The shell script (busybox sh) that, in `dir` where `version` was just
/// unpacked, swaps `..data` to it with a rename, links new top-level entries,
/// unlinks the ones that went and removes older versions: [`write`]'s steps.
pub fn swap_script(dir: &str, version: &str, tops: &BTreeSet<String>) -> String {
    let bb = "/bin/busybox";
    let keep: Vec<String> = tops.iter().map(|t| quote(t)).collect();
    let keep = keep.join(" ");
    let mut s = String::from("set -e\n");
    s += &format!("cd {}\n", quote(dir));
    s += &format!("{bb} rm -f {DATA_TMP}\n{bb} ln -s {} {DATA_TMP}\n", quote(version));
    s += &format!("{bb} mv -Tf {DATA_TMP} {DATA}\n");
    s += &format!("for t in {keep}; do [ -L \"$t\" ] || [ -e \"$t\" ] || {bb} ln -s \"{DATA}/$t\" \"$t\"; done\n");
    s += "for f in * .[!.]*; do\n  [ -L \"$f\" ] || continue\n  keep=no\n";
    s += &format!("  for t in {keep}; do [ \"$f\" = \"$t\" ] && keep=yes; done\n");
    s += &format!("  [ $keep = yes ] || {bb} rm -f \"$f\"\ndone\n");
    s += &format!(
        "for d in ..?*; do\n  case \"$d\" in {DATA}|{}) ;; *) [ -d \"$d\" ] && {bb} rm -rf \"$d\" ;; esac\ndone\n",
        quote(version)
    );
    s += "true\n";
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(files: &[(&str, &str, u32)]) -> Payload {
        files.iter().map(|(p, d, m)| (p.to_string(), File { data: d.as_bytes().to_vec(), mode: *m })).collect()
    }

    fn read(dir: &Path, p: &str) -> String {
        fs::read_to_string(dir.join(p)).unwrap()
    }

    #[test]
    fn writes_versions_behind_a_data_link_and_swaps_them() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vol");
        let first = payload(&[("sleep-interval", "25", 0o644), ("conf/my.conf", "gzip on;", 0o600)]);
        assert!(write(&dir, &first, "..v1").unwrap());
        assert_eq!(fs::read_link(dir.join(DATA)).unwrap(), Path::new("..v1"));
        assert_eq!(fs::read_link(dir.join("sleep-interval")).unwrap(), Path::new("..data/sleep-interval"));
        assert_eq!(fs::read_link(dir.join("conf")).unwrap(), Path::new("..data/conf"));
        assert_eq!(read(&dir, "sleep-interval"), "25");
        assert_eq!(read(&dir, "conf/my.conf"), "gzip on;");
        let mode = fs::metadata(dir.join("conf/my.conf")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        // The same content again: nothing is rewritten.
        assert!(!write(&dir, &first, "..v2").unwrap());
        assert!(!dir.join("..v2").exists());

        // A changed value and a key gone: a new version, the old one removed.
        let second = payload(&[("sleep-interval", "5", 0o644)]);
        assert!(write(&dir, &second, "..v3").unwrap());
        assert_eq!(fs::read_link(dir.join(DATA)).unwrap(), Path::new("..v3"));
        assert_eq!(read(&dir, "sleep-interval"), "5");
        assert!(dir.join("conf").symlink_metadata().is_err(), "the link of a gone entry is removed");
        assert!(!dir.join("..v1").exists(), "the old version is removed");
        assert!(!dir.join(DATA_TMP).exists());
        let mut names: Vec<String> =
            fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, ["..data", "..v3", "sleep-interval"]);
    }

    #[test]
    fn a_reader_holding_the_old_version_keeps_reading_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vol");
        write(&dir, &payload(&[("a", "1", 0o644), ("b", "1", 0o644)]), "..v1").unwrap();
        // A reader that resolved ..data before the swap sees a consistent old set
        // until the old version is removed; one resolving after sees only the new set.
        let resolved = dir.join(fs::read_link(dir.join(DATA)).unwrap());
        let old_a = read(&resolved, "a");
        write(&dir, &payload(&[("a", "2", 0o644), ("b", "2", 0o644)]), "..v2").unwrap();
        assert_eq!(old_a, "1");
        assert_eq!((read(&dir, "a"), read(&dir, "b")), ("2".into(), "2".into()));
    }

    #[test]
    fn paths_must_stay_inside_the_volume() {
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "..data", "a//b"] {
            assert!(valid_path(bad).is_err(), "{bad:?}");
        }
        for good in ["a", "a/b.conf", ".hidden", "a..b"] {
            assert!(valid_path(good).is_ok(), "{good:?}");
        }
        let tmp = tempfile::tempdir().unwrap();
        assert!(write(tmp.path(), &payload(&[("../evil", "x", 0o644)]), "..v1").is_err());
    }

    #[test]
    fn version_names_sort_by_time() {
        let t: jiff::Timestamp = "2026-12-07T22:30:01.5Z".parse().unwrap();
        assert_eq!(version_name(t), "..2026_12_07_22_30_01.500000000");
    }

    /// Each entry of a tar: (name, kind, mode, link target, content), checksums checked.
    fn tar_entries(tar: &[u8]) -> Vec<(String, u8, u32, String, String)> {
        assert_eq!(tar.len() % 512, 0);
        let field = |b: &[u8]| String::from_utf8_lossy(b).trim_end_matches('\0').to_string();
        let mut entries = Vec::new();
        let mut at = 0;
        while at + 512 <= tar.len() && tar[at] != 0 {
            let h = &tar[at..at + 512];
            let size = u64::from_str_radix(String::from_utf8_lossy(&h[124..135]).trim(), 8).unwrap() as usize;
            let mode = u32::from_str_radix(String::from_utf8_lossy(&h[100..107]).trim(), 8).unwrap();
            let stored = u32::from_str_radix(String::from_utf8_lossy(&h[148..154]).trim(), 8).unwrap();
            let mut blank = h.to_vec();
            blank[148..156].copy_from_slice(b"        ");
            assert_eq!(stored, blank.iter().map(|&b| u32::from(b)).sum::<u32>(), "{}", field(&h[..100]));
            let content = String::from_utf8_lossy(&tar[at + 512..at + 512 + size]).into_owned();
            entries.push((field(&h[..100]), h[156], mode, field(&h[157..257]), content));
            at += 512 + size.div_ceil(512) * 512;
        }
        assert!(tar[at..].iter().all(|&b| b == 0) && tar.len() - at >= 1024, "two zero blocks end it");
        entries
    }

    #[test]
    fn the_layout_tar_is_what_write_leaves_in_an_empty_directory() {
        let p = payload(&[("https.key", "KEY", 0o400), ("d/foo", "bar", 0o644)]);
        let tar = layout_tar(&p, "..v1", 1_800_000_000).unwrap();
        let entries = tar_entries(&tar);
        let version = tar_entries(&version_tar(&p, "..v1", 1_800_000_000));
        assert_eq!(entries[..version.len()], version[..], "the version directory first");
        let links: Vec<(&str, u8, &str)> =
            entries[version.len()..].iter().map(|(n, k, _, l, _)| (n.as_str(), *k, l.as_str())).collect();
        assert_eq!(links, [("..data", b'2', "..v1"), ("d", b'2', "..data/d"), ("https.key", b'2', "..data/https.key")]);

        // The same names and links as the atomic writer makes on disk.
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), &p, "..v1").unwrap();
        for (name, _, target) in &links {
            assert_eq!(fs::read_link(tmp.path().join(name)).unwrap(), Path::new(target), "{name}");
        }

        let long = "k".repeat(95);
        assert!(layout_tar(&payload(&[(&long, "v", 0o644)]), "..v1", 0).is_none(), "..data/<95 bytes> does not fit");
    }

    #[test]
    fn the_tar_holds_the_version_directory() {
        let p = payload(&[("https.key", "KEY", 0o400), ("d/foo", "bar", 0o644)]);
        let tar = version_tar(&p, "..v1", 1_800_000_000);
        assert_eq!(tar.len() % 512, 0);
        // Each header names its entry and carries a valid checksum.
        let mut names = Vec::new();
        let mut at = 0;
        while at + 512 <= tar.len() && tar[at] != 0 {
            let h = &tar[at..at + 512];
            let name = String::from_utf8_lossy(&h[..100]).trim_end_matches('\0').to_string();
            let size = u64::from_str_radix(String::from_utf8_lossy(&h[124..135]).trim(), 8).unwrap() as usize;
            let mode = u32::from_str_radix(String::from_utf8_lossy(&h[100..107]).trim(), 8).unwrap();
            let mtime = u64::from_str_radix(String::from_utf8_lossy(&h[136..147]).trim(), 8).unwrap();
            assert_eq!(mtime, 1_800_000_000);
            let stored = u32::from_str_radix(String::from_utf8_lossy(&h[148..154]).trim(), 8).unwrap();
            let mut blank = h.to_vec();
            blank[148..156].copy_from_slice(b"        ");
            assert_eq!(stored, blank.iter().map(|&b| u32::from(b)).sum::<u32>(), "{name}");
            names.push((name, mode, String::from_utf8_lossy(&tar[at + 512..at + 512 + size]).into_owned()));
            at += 512 + size.div_ceil(512) * 512;
        }
        assert_eq!(
            names,
            [
                ("..v1/".to_string(), 0o755, String::new()),
                ("..v1/d/".to_string(), 0o755, String::new()),
                ("..v1/d/foo".to_string(), 0o644, "bar".to_string()),
                ("..v1/https.key".to_string(), 0o400, "KEY".to_string()),
            ]
        );
    }

    #[test]
    fn the_swap_script_does_what_write_does() {
        // Run it with the machine's busybox when there is one, on a directory
        // laid out as the tar unpacks it; otherwise check the script's text.
        let tops: BTreeSet<String> = ["a".to_string(), "it's".to_string()].into();
        let script = swap_script("/v", "..v2", &tops);
        assert!(script.contains("mv -Tf ..data_tmp ..data"));
        assert!(script.contains(r"'it'\''s'"));
        let Ok(busybox) = which("busybox") else { return };
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vol");
        write(&dir, &payload(&[("a", "1", 0o644), ("gone", "x", 0o644)]), "..v1").unwrap();
        fs::create_dir_all(dir.join("..v2")).unwrap();
        fs::write(dir.join("..v2/a"), "2").unwrap();
        fs::write(dir.join("..v2/it's"), "q").unwrap();
        let script = swap_script(&dir.display().to_string(), "..v2", &tops).replace("/bin/busybox", &busybox);
        let out = std::process::Command::new(&busybox).args(["sh", "-c", &script]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(fs::read_link(dir.join(DATA)).unwrap(), Path::new("..v2"));
        assert_eq!(read(&dir, "a"), "2");
        assert_eq!(read(&dir, "it's"), "q");
        assert!(dir.join("gone").symlink_metadata().is_err());
        assert!(!dir.join("..v1").exists());
    }

    fn which(name: &str) -> Result<String, ()> {
        let path = std::env::var("PATH").map_err(|_| ())?;
        path.split(':').map(|d| format!("{d}/{name}")).find(|p| Path::new(p).is_file()).ok_or(())
    }
}
