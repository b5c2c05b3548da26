//! The generated script library (`conformance/scripts-generated`, written by
//! `nbns-conform generate` from the model's server): regenerating it gives the
//! same files byte for byte, and the embedded reference target passes every
//! script.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

mod common;
use common::{bin, count_scripts, repo, summary_line};

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn regenerating_gives_the_committed_scripts_byte_for_byte() {
    let dir = std::env::temp_dir().join(format!("nbnsv-generated-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(bin())
        .args(["generate", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fresh = files(&dir);
    let committed = files(&repo().join("conformance/scripts-generated"));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(fresh.len() >= 1000, "{} scripts", fresh.len());
    let missing: Vec<_> = fresh
        .keys()
        .filter(|k| !committed.contains_key(*k))
        .collect();
    let extra: Vec<_> = committed
        .keys()
        .filter(|k| !fresh.contains_key(*k))
        .collect();
    let differ: Vec<_> = fresh
        .iter()
        .filter(|(k, v)| committed.get(*k).is_some_and(|c| c != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && differ.is_empty(),
        "conformance/scripts-generated is stale (run `nbns-conform generate`): \
         not committed {missing:?}, not generated {extra:?}, different {differ:?}"
    );
}

#[test]
fn reference_target_passes_every_generated_script() {
    let lib = repo().join("conformance/scripts-generated");
    let out = Command::new(bin())
        .args(["run", "--quiet"])
        .arg(&lib)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let n = count_scripts(&lib);
    assert!(n >= 1000, "{n}");
    assert_eq!(
        summary_line(&stdout),
        format!("{n} passed, 0 failed, 0 skipped"),
        "{stdout}"
    );
}
