//! Loading a script library: the scripts of files and directories, named by
//! their path under the directory, selected by a filter.

use crate::script::format::{Script, ScriptError};
use std::path::{Path, PathBuf};

/// The script file extension.
pub const EXTENSION: &str = "nbt";

/// The scripts of `paths` (the `library` directory when none are given)
/// whose names contain `filter`; `None` once script errors, or an empty
/// selection, have been reported on standard error.
pub fn load_selected(
    paths: &[PathBuf],
    library: &str,
    filter: Option<&str>,
) -> Option<Vec<Script>> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from(library)]
    } else {
        paths.to_vec()
    };
    match load(&paths, filter) {
        Ok(scripts) if scripts.is_empty() => {
            let looked: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            eprintln!("error: no scripts match (looked in {})", looked.join(", "));
            None
        }
        Ok(scripts) => Some(scripts),
        Err(errors) => {
            for e in errors {
                eprintln!("error: {e}");
            }
            None
        }
    }
}

/// Finds the scripts under each path (a file or a directory, recursively),
/// sorted by name. A script's name is its path below the directory given,
/// without the extension: `registration/new-unique`.
pub fn load(paths: &[PathBuf], filter: Option<&str>) -> Result<Vec<Script>, Vec<ScriptError>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect(path, path, &mut files, &mut errors);
        } else if path.is_file() {
            let name = path
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
            files.push((name, path.clone()));
        } else {
            errors.push(io_error(path, "no such file or directory"));
        }
    }
    files.sort();
    files.dedup();
    let mut scripts = Vec::new();
    for (name, path) in files {
        if filter.is_some_and(|f| !name.contains(f)) {
            continue;
        }
        match Script::load(&path, name) {
            Ok(s) => scripts.push(s),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(scripts)
    } else {
        Err(errors)
    }
}

fn io_error(path: &Path, message: &str) -> ScriptError {
    ScriptError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        message: message.to_string(),
    }
}

fn collect(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, PathBuf)>,
    errors: &mut Vec<ScriptError>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(io_error(dir, &format!("cannot read directory: {e}")));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out, errors);
        } else if path.extension().is_some_and(|e| e == EXTENSION) {
            let rel = path.strip_prefix(root).unwrap_or(&path).with_extension("");
            let name = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((name, path));
        }
    }
}
