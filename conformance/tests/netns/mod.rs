//! A private network namespace for one test (loopback only, addresses
//! 127.0.0.x on its lo), the processes the test starts in it, a packet
//! capture of its lo, and the checks that the tools are there. Everything is
//! bounded in time: each process runs under `timeout`, and dropping the
//! namespace stops them (TERM, then KILL) and deletes it, also when the test
//! panics. Real interfaces are never touched.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Fails the test (never skips it) unless it runs as root and every tool of
/// `tools` (binary, Debian package) is installed.
pub fn require(what: &str, tools: &[(&str, &str)]) {
    let uid = Command::new("id").arg("-u").output().map_or_else(
        |_| String::new(),
        |o| String::from_utf8_lossy(&o.stdout).trim().to_string(),
    );
    assert_eq!(
        uid, "0",
        "{what} needs root (network namespaces, port 137); CI runs it as root"
    );
    let missing: Vec<(&str, &str)> = tools
        .iter()
        .copied()
        .filter(|(bin, _)| !tool_present(bin))
        .collect();
    if !missing.is_empty() {
        let bins: Vec<&str> = missing.iter().map(|m| m.0).collect();
        let mut pkgs: Vec<&str> = missing.iter().map(|m| m.1).collect();
        pkgs.dedup();
        panic!(
            "\n########\n## {what}: {} missing. Install (Debian 12, as root):\n##   apt-get update && \
             apt-get install -y --no-install-recommends {}\n## (.ci/run does)\n########",
            bins.join(", "),
            pkgs.join(" ")
        );
    }
}

fn tool_present(bin: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(bin).exists())
        || Command::new("sh")
            .args(["-c", &format!("command -v {bin}")])
            .output()
            .is_ok_and(|o| o.status.success())
}

/// Seconds since the epoch, as pcap timestamps are.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Polls `f` every 200 ms until it returns true or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    loop {
        if f() {
            return true;
        }
        if t.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub struct Netns {
    pub name: String,
    /// A temporary folder for the test's files (kept when NBNSV_KEEP is set).
    pub dir: PathBuf,
    children: Vec<Child>,
    /// Commands run (inside the namespace) when the namespace is dropped,
    /// before its processes are stopped.
    pub cleanup: Vec<Vec<String>>,
}

impl Netns {
    /// Creates namespace `nbnsv-TAG-PID` with lo up and `addrs` on it.
    pub fn new(tag: &str, addrs: &[&str]) -> Netns {
        let name = format!("nbnsv-{tag}-{}", std::process::id());
        let dir = std::env::temp_dir().join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let _ = Command::new("ip").args(["netns", "delete", &name]).output();
        let ns = Netns {
            name,
            dir,
            children: Vec::new(),
            cleanup: Vec::new(),
        };
        ns.ip(&["netns", "add", &ns.name]);
        ns.ip(&["netns", "exec", &ns.name, "ip", "link", "set", "lo", "up"]);
        for a in addrs {
            let cidr = format!("{a}/8");
            ns.ip(&[
                "netns", "exec", &ns.name, "ip", "addr", "add", &cidr, "dev", "lo",
            ]);
        }
        ns
    }

    fn ip(&self, args: &[&str]) {
        let out = Command::new("ip").args(args).output().expect("run ip");
        assert!(
            out.status.success(),
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A command run inside the namespace.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }

    /// Runs `args` inside the namespace, bounded by `limit`, to completion.
    pub fn run(&self, limit: Duration, args: &[&str]) -> Output {
        let secs = limit.as_secs().max(1).to_string();
        let mut full = vec!["timeout", "-k", "2", &secs];
        full.extend_from_slice(args);
        self.command(&full)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"))
    }

    /// Starts `args` inside the namespace in the background, killed after
    /// `limit` at the latest; stdout and stderr go to `log` (in `dir`).
    /// Returns its index for `stop`.
    pub fn spawn(&mut self, limit: Duration, log: &str, args: &[&str]) -> usize {
        let secs = limit.as_secs().max(1).to_string();
        let mut full = vec!["timeout", "-k", "2", &secs];
        full.extend_from_slice(args);
        let out = std::fs::File::create(self.dir.join(log)).unwrap();
        let child = self
            .command(&full)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {args:?}: {e}"));
        self.children.push(child);
        self.children.len() - 1
    }

    /// True while process `i` runs.
    pub fn running(&mut self, i: usize) -> bool {
        matches!(self.children[i].try_wait(), Ok(None))
    }

    /// Stops process `i`: SIGTERM (which `timeout` passes on), up to 5 s to
    /// exit, then SIGKILL.
    pub fn stop(&mut self, i: usize) {
        let child = &mut self.children[i];
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .output();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts tcpdump on the namespace's lo, writing `file` (in `dir`) packet
    /// by packet (immediate mode: no packet waits in the kernel's buffer, so
    /// the file can be read while it grows), with the capture filter
    /// `filter`; returns once it listens. Stop it with `stop_capture`.
    pub fn capture(&mut self, limit: Duration, file: &str, filter: &[&str]) -> usize {
        let path = self.dir.join(file);
        let path = path.to_str().unwrap().to_string();
        let log = format!("{file}.log");
        let mut args = vec![
            "tcpdump",
            "-i",
            "lo",
            "--immediate-mode",
            // A 16 MiB kernel buffer: on a loaded machine the default one drops
            // packets, and a lost answer reads as a server that did not answer.
            "-B",
            "16384",
            "-U",
            "-n",
            "-Z",
            "root",
            "-w",
            &path,
        ];
        args.extend_from_slice(filter);
        let i = self.spawn(limit, &log, &args);
        let ready = wait_until(Duration::from_secs(10), || {
            std::fs::read_to_string(self.dir.join(&log)).is_ok_and(|s| s.contains("listening on"))
        });
        assert!(
            ready,
            "tcpdump did not start: {}",
            std::fs::read_to_string(self.dir.join(&log)).unwrap_or_default()
        );
        i
    }

    /// Stops a capture started by `capture` after giving tcpdump a moment
    /// for the last packets (it drops what it has not read when it stops).
    pub fn stop_capture(&mut self, i: usize) {
        std::thread::sleep(Duration::from_millis(700));
        self.stop(i);
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for c in std::mem::take(&mut self.cleanup) {
            let args: Vec<&str> = c.iter().map(String::as_str).collect();
            let _ = self.run(Duration::from_secs(10), &args);
        }
        for i in 0..self.children.len() {
            self.stop(i);
        }
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .output();
        if std::env::var_os("NBNSV_KEEP").is_some() {
            eprintln!("kept {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
