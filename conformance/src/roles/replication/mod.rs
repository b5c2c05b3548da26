//! `nbns-conform run --role replication`: the runner as WINS replication
//! partners of a target (MS-WINSRA, TCP 42). Runs the conflict matrix (see
//! [`matrix`]), a push by inform notification after which the
//! target connects back and pulls, the version-id checks (also across a
//! restart of the target when `--restart-cmd` is given) and hostile frames.
//! Reports like the server runner: one line a case, JUnit, JSON,
//! expectations file, `N passed, M failed, K skipped`. Set NBNS_WREPL_DEBUG
//! to see every push session and every connection the partner listeners serve.

pub mod holders;
pub mod matrix;
mod protocol;

use self::holders::{Holders, Policy};
use self::matrix::{Expect, MatrixCase, Pool, Rec, Who};
use crate::roles::options::RunArgs;
use crate::roles::suite;
use crate::strict;
use crate::verdict::expectations::Expectations;
use crate::verdict::report;
use crate::verdict::Outcome;
use crate::verdict::{Failure, Verdict};
use nbns_model::server::{Kind, RecState};
use nbns_reference::embedded;
use nbns_reference::replication::conn::{self as partner, Conn, PartnerListener, RecordStore};
use nbns_wire::nbns::{Opcode, Rcode};
use nbns_wire::wrepl::{
    OwnedMessage, OwnedNameRecord, OwnedReplication, OwnedRepr, OwnerRecord, Start, UpdateKind,
    OPCODE_BITS,
};
use nbns_wire::NetbiosName;
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DEFAULT_PARTNERS: [Ipv4Addr; 2] = [Ipv4Addr::new(127, 0, 0, 3), Ipv4Addr::new(127, 0, 0, 4)];
const DEFAULT_HOLDERS: [Ipv4Addr; 4] = crate::roles::options::DEFAULT_CLIENTS;
/// Records a push session carries at most.
const PUSH_CHUNK: usize = 100;
const T: Duration = partner::DEFAULT_TIMEOUT;

/// Everything the phases share.
struct Ctx {
    target: SocketAddrV4,
    owner_a: Ipv4Addr,
    owner_b: Ipv4Addr,
    local: Ipv4Addr,
    store: Arc<Mutex<RecordStore>>,
    next_version: Mutex<HashMap<Ipv4Addr, u64>>,
    holders: Option<Holders>,
    holder_addrs: Vec<Ipv4Addr>,
    listener: Option<PartnerListener>,
    token: String,
    jobs: usize,
    /// Every frame the target sent on the sessions the cases opened, per connection with
    /// the runner's handle on it, for the strict layout check at the end of the run.
    frames: Mutex<Vec<(u32, Vec<Vec<u8>>)>>,
}

impl Ctx {
    fn who(&self, a: Ipv4Addr) -> Who {
        if a == self.owner_a {
            Who::A
        } else if a == self.owner_b {
            Who::B
        } else if a == self.local {
            Who::Local
        } else {
            Who::Other(a)
        }
    }

    fn addr_of(&self, w: Who) -> Ipv4Addr {
        match w {
            Who::A => self.owner_a,
            Who::B => self.owner_b,
            Who::Local => self.local,
            Who::Other(a) => a,
        }
    }

    fn version(&self, owner: Ipv4Addr) -> u64 {
        let mut g = self.next_version.lock().unwrap_or_else(|p| p.into_inner());
        let v = g.entry(owner).or_insert(1);
        let out = *v;
        *v += 1;
        out
    }

    /// A session from `from` (start association, `f`, stop) whose frames the strict check
    /// sees.
    fn session<R>(
        &self,
        from: Ipv4Addr,
        f: impl FnOnce(&mut Conn) -> partner::Result<R>,
    ) -> Result<R, String> {
        let mut c = Conn::connect(Some(from), self.target, T).map_err(|e| e.to_string())?;
        c.record_frames();
        let out = c.start_association().and_then(|()| f(&mut c));
        if out.is_ok() {
            let _ = c.stop();
        }
        let frames = c.take_recorded();
        self.frames
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((c.our_ctx, frames));
        out.map_err(|e| e.to_string())
    }

    /// The strict check of every frame the sessions received, as one outcome.
    fn layout_outcome(&self, started: Instant) -> Outcome {
        let frames = std::mem::take(&mut *self.frames.lock().unwrap_or_else(|p| p.into_inner()));
        let count: usize = frames.iter().map(|(_, f)| f.len()).sum();
        let violations: Vec<_> = frames
            .iter()
            .flat_map(|(ctx, f)| strict::wrepl::check_connection(*ctx, f))
            .collect();
        let verdict = match violations.first() {
            Some(v) => Verdict::Violation(v.clone()),
            None => Verdict::Pass,
        };
        let mut o = outcome(
            "strict/replication-frames",
            &format!("every frame the target sent on {} sessions ({count} frames) has the MS-WINSRA 2.2 layout", frames.len()),
            verdict,
            started.elapsed(),
        );
        o.violations = violations;
        o
    }

    /// One push session from `from` announcing `owner`'s records in the store.
    fn push_session(&self, from: Ipv4Addr, owner: Ipv4Addr) -> Result<partner::PushReport, String> {
        let snapshot = self.store.lock().unwrap_or_else(|p| p.into_inner()).clone();
        self.session(from, |c| {
            c.push(
                UpdateKind::Update,
                from,
                &snapshot,
                Some(&[owner]),
                Duration::from_secs(60),
            )
        })
    }

    fn store_edit(&self, f: impl FnOnce(&mut RecordStore)) {
        f(&mut self.store.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Pushes the records of `owner` from partner address `from`, in
    /// chunks; each record is tagged with its case. A target that cannot
    /// store a record gives up on the rest of the reply (it closes the
    /// connection instead of stopping the association, and keeps its old
    /// version for the owner), so a failed chunk is pushed again in halves,
    /// with fresh versions, down to the single records it refuses. Returns
    /// the tags of those.
    fn push(
        &self,
        from: Ipv4Addr,
        owner: Ipv4Addr,
        recs: Vec<(usize, OwnedNameRecord)>,
    ) -> Result<Vec<usize>, String> {
        let mut refused = Vec::new();
        for chunk in recs.chunks(PUSH_CHUNK) {
            self.push_group(from, owner, chunk, &mut refused)?;
        }
        Ok(refused)
    }

    fn push_group(
        &self,
        from: Ipv4Addr,
        owner: Ipv4Addr,
        recs: &[(usize, OwnedNameRecord)],
        refused: &mut Vec<usize>,
    ) -> Result<(), String> {
        let mut versions = Vec::new();
        self.store_edit(|s| {
            for (_, r) in recs {
                let mut r = r.clone();
                r.version = self.version(owner);
                versions.push(r.version);
                s.add(owner, r);
            }
        });
        let rep = self
            .push_session(from, owner)
            .map_err(|e| format!("push of {} records of {owner} from {from}: {e}", recs.len()))?;
        if std::env::var_os("NBNS_WREPL_DEBUG").is_some() {
            eprintln!("push {owner} from {from}: {} records: {rep:?}", recs.len());
        }
        if rep.stopped {
            return Ok(());
        }
        self.store_edit(|s| {
            if let Some(v) = s.owners.get_mut(&owner) {
                v.retain(|r| !versions.contains(&r.version));
            }
        });
        if let [(tag, _)] = recs {
            refused.push(*tag);
            return Ok(());
        }
        let (a, b) = recs.split_at(recs.len() / 2);
        self.push_group(from, owner, a, refused)?;
        self.push_group(from, owner, b, refused)
    }

    /// Every record of `owner` the target holds.
    fn pull_all(&self, owner: Ipv4Addr) -> Result<Vec<OwnedNameRecord>, String> {
        self.session(self.owner_a, |c| c.send_entries(owner, 0, 0))
    }

    fn map(&self) -> Result<Vec<OwnerRecord>, String> {
        self.session(self.owner_a, |c| c.owner_map())
    }
}

fn fail(mismatch: String, expected: String, got: String) -> Verdict {
    Verdict::Fail(Failure {
        line: 0,
        mismatch,
        expected,
        got,
    })
}

fn outcome(name: &str, title: &str, verdict: Verdict, duration: Duration) -> Outcome {
    Outcome {
        name: name.to_string(),
        title: title.to_string(),
        verdict,
        duration,
        known: None,
        violations: Vec::new(),
    }
}

fn parse_target(s: &str) -> Result<SocketAddrV4, String> {
    if let Ok(SocketAddr::V4(a)) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    match s.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => Ok(SocketAddrV4::new(ip, nbns_wire::wrepl::PORT)),
        _ => Err(format!("`{s}` is not IPv4 or IPv4:PORT")),
    }
}

/// Runs the replication role; returns the exit status (0 ok, 1 failures, 2 usage).
pub fn run(opts: &RunArgs) -> i32 {
    let partners = if opts.partners.is_empty() {
        DEFAULT_PARTNERS.to_vec()
    } else {
        opts.partners.clone()
    };
    if partners.len() < 2 {
        eprintln!("error: --role replication needs two --partner-addr (owners A and B)");
        return 2;
    }
    // Without --target: the embedded reference target, with replication on,
    // the runner's partner addresses as its partners and a database file so
    // that it can be restarted.
    let embedded = match &opts.target {
        Some(_) => None,
        None => match EmbeddedWins::start(&partners) {
            Ok(e) => Some(e),
            Err(e) => {
                eprintln!("error: cannot start the embedded reference target: {e}\n(it listens on {}:137 and :42 and the runner on 137 and 42 of its partner and holder addresses: run as root, e.g. in a network namespace of its own: `unshare -n sh -c 'ip link set lo up && nbns-conform run --role replication'`; or give --target)", embedded::EMBEDDED_ADDR);
                return 2;
            }
        },
    };
    let target = match (&opts.target, &embedded) {
        (Some(t), _) => match parse_target(t) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: --target {e}");
                return 2;
            }
        },
        (None, Some(e)) => e.wrepl,
        (None, None) => unreachable!("started above"),
    };
    let restart: Option<Box<dyn Fn() -> Result<(), String> + '_>> =
        match (&opts.restart_cmd, &embedded) {
            (Some(cmd), _) => Some(Box::new(move || restart_by_command(cmd))),
            (None, Some(e)) => Some(Box::new(move || e.restart())),
            (None, None) => None,
        };
    let holder_addrs = if opts.clients.is_empty() {
        DEFAULT_HOLDERS.to_vec()
    } else {
        opts.clients.clone()
    };
    if holder_addrs.len() < 2 {
        eprintln!("error: --role replication needs two holder addresses (--client-addr)");
        return 2;
    }
    let expectations = match Expectations::load_opt(opts.expect.as_deref()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let holders = match Holders::bind(
        &holder_addrs,
        nbns_wire::nbns::PORT,
        SocketAddr::new(IpAddr::V4(*target.ip()), nbns_wire::nbns::PORT),
    ) {
        Ok(h) => Some(h),
        Err(e) => {
            eprintln!("warning: {e}: cases with records the target owns are skipped (run as root in the target's namespace)");
            None
        }
    };
    let store = Arc::new(Mutex::new(RecordStore::default()));
    let listener = match PartnerListener::start(&partners, nbns_wire::wrepl::PORT, store.clone()) {
        Ok(l) => Some(l),
        Err(e) => {
            eprintln!("warning: {e}: the push-by-inform case is skipped");
            None
        }
    };
    // First contact: the owner-version map gives the target's own owner
    // address and where owner A's and B's versions stand.
    let map = match partner::session(Some(partners[0]), target, T, |c| c.owner_map()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: target {target} does not answer as a replication partner from {}: {e}\n(the target must list {} and {} as partners, e.g. in wins_config.ldb)", partners[0], partners[0], partners[1]);
            return 2;
        }
    };
    let local = map
        .iter()
        .find(|o| o.address == *target.ip())
        .map(|o| o.address)
        .unwrap_or(*target.ip());
    let mut next = HashMap::new();
    for o in &map {
        next.insert(o.address, o.max_version + 1);
    }
    let token = suite::run_token();
    let ctx = Ctx {
        target,
        owner_a: partners[0],
        owner_b: partners[1],
        local,
        store,
        next_version: Mutex::new(next),
        holders,
        holder_addrs,
        listener,
        token,
        jobs: if opts.jobs == 0 { 8 } else { opts.jobs },
        frames: Mutex::new(Vec::new()),
    };
    let label = match &embedded {
        Some(_) => format!("embedded reference target {target}"),
        None => format!("WINS replication target {target}"),
    };
    eprintln!(
        "replication partner run against {target} (target owner {local}) as owners A={} B={}, holders {} (run {})",
        ctx.owner_a,
        ctx.owner_b,
        ctx.holder_addrs
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(","),
        ctx.token
    );
    let start = Instant::now();
    let selected = |name: &str| match opts.filter.as_deref() {
        Some(f) => name.contains(f),
        None => true,
    };
    let mut outcomes = Vec::new();
    let print = |o: &Outcome| {
        let mut o = o.clone();
        if let Some(e) = &expectations {
            e.judge_one(&mut o);
        }
        if !opts.quiet || o.counts_as_failure() || o.known.is_some() {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", report::line(&o));
            let _ = out.flush();
        }
    };

    let t0 = Instant::now();
    let pool = Pool {
        holder1: ctx.holder_addrs[0],
        holder2: ctx.holder_addrs[1],
        holder3: ctx.holder_addrs.get(2).copied(),
    };
    let mut all = matrix::cases(&ctx.token, pool);
    let first = all.len();
    all.extend(matrix::third_owner_cases(&ctx.token, pool, first));
    let matrix: Vec<MatrixCase> = all.into_iter().filter(|m| selected(&m.name)).collect();
    if !matrix.is_empty() {
        let v = run_matrix(&ctx, &matrix);
        eprintln!(
            "conflict matrix: {} cases in {:.1}s",
            v.len(),
            t0.elapsed().as_secs_f64()
        );
        for o in &v {
            print(o);
        }
        outcomes.extend(v);
    }
    if selected("push/inform-connect-back") {
        let o = inform_case(&ctx);
        print(&o);
        outcomes.push(o);
    }
    for o in hostile_cases(&ctx, &selected) {
        print(&o);
        outcomes.push(o);
    }
    for o in version_cases(&ctx, &selected, restart.as_deref()) {
        print(&o);
        outcomes.push(o);
    }
    for o in protocol::cases(&ctx, &selected) {
        print(&o);
        outcomes.push(o);
    }
    let o = ctx.layout_outcome(start);
    print(&o);
    outcomes.push(o);
    drop(ctx);

    report::finish(
        report::Finish {
            label: &label,
            expectations: expectations.as_ref(),
            junit: opts.junit.as_deref(),
            json: opts.json.as_deref(),
            complete: opts.filter.is_none(),
            start,
        },
        &mut outcomes,
    )
}

/// Runs `f` over `items` with `jobs` threads; results in item order.
fn parallel<I: Sync, R: Send>(items: &[I], jobs: usize, f: impl Fn(&I) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, 32) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(it) = items.get(i) else { break };
                let r = f(it);
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// The holders register (and release) the records the target is to own.
fn setup_owned(h: &Holders, m: &MatrixCase) -> Result<(), String> {
    let e = &m.existing;
    let group = matches!(e.kind, Kind::Group | Kind::SpecialGroup);
    let mh = e.kind == Kind::Multihomed;
    // A second multihomed registration makes the target challenge the
    // first address: the host answers with all of its addresses.
    h.set_policy(&m.nbname, Policy::Positive(e.addrs.clone()));
    for &a in &e.addrs {
        let rc = h
            .register(a, &m.nbname, group, mh)
            .map_err(|err| format!("registration from {a}: {err}"))?;
        if rc != Rcode::NoError {
            return Err(format!("registration from {a} answered {rc}"));
        }
    }
    if e.state == RecState::Released {
        h.set_policy(&m.nbname, Policy::Negative);
        for &a in &e.addrs {
            let rc = h
                .release(a, &m.nbname, group)
                .map_err(|err| format!("release from {a}: {err}"))?;
            if rc != Rcode::NoError {
                return Err(format!("release from {a} answered {rc}"));
            }
        }
    }
    Ok(())
}

fn run_matrix(ctx: &Ctx, matrix: &[MatrixCase]) -> Vec<Outcome> {
    let t0 = Instant::now();
    let mut errors: Vec<Option<Verdict>> = vec![None; matrix.len()];
    // 1. Records the target owns: registered by the holders.
    let owned: Vec<usize> = (0..matrix.len())
        .filter(|&i| matrix[i].existing.owner == Who::Local)
        .collect();
    match &ctx.holders {
        Some(h) => {
            let res = parallel(&owned, ctx.jobs, |&i| setup_owned(h, &matrix[i]));
            for (&i, r) in owned.iter().zip(res) {
                if let Err(e) = r {
                    errors[i] = Some(Verdict::Error(format!("setting up the owned record: {e}")));
                }
            }
        }
        None => {
            for &i in &owned {
                errors[i] = Some(Verdict::Skipped(
                    "no holder sockets on UDP 137 (needs root in the target's namespace)".into(),
                ));
            }
        }
    }
    eprintln!(
        "  {} owned records registered in {:.1}s",
        owned.len(),
        t0.elapsed().as_secs_f64()
    );
    // 2. Existing replicas from owner A.
    let mut first = Vec::new();
    for (i, m) in matrix.iter().enumerate() {
        if m.existing.owner == Who::A {
            first.push((
                i,
                matrix::wire_record(&m.nbname, &m.existing, 0, &|w| ctx.addr_of(w)),
            ));
        }
    }
    match ctx.push(ctx.owner_a, ctx.owner_a, first) {
        Err(e) => return fail_all(matrix, &format!("pushing the existing replicas: {e}"), t0),
        Ok(refused) => {
            for i in refused {
                errors[i] = Some(refused_verdict(&matrix[i], "existing"));
            }
        }
    }
    // 3. How the holders answer challenges, then the incoming replicas.
    if let Some(h) = &ctx.holders {
        for (i, m) in matrix.iter().enumerate() {
            if errors[i].is_some() {
                continue;
            }
            if let Some((p, _, _)) = &m.challenge {
                h.set_policy(&m.nbname, p.clone());
            }
            for (a, p) in &m.per_addr {
                h.set_addr_policy(&m.nbname, *a, p.clone());
            }
        }
    }
    let (mut from_a, mut from_b) = (Vec::new(), Vec::new());
    for (i, m) in matrix.iter().enumerate() {
        if errors[i].is_some() {
            continue;
        }
        let rec = (
            i,
            matrix::wire_record(&m.nbname, &m.incoming, 0, &|w| ctx.addr_of(w)),
        );
        if m.incoming.owner == Who::A {
            from_a.push(rec);
        } else {
            from_b.push(rec);
        }
    }
    for (owner, recs) in [(ctx.owner_a, from_a), (ctx.owner_b, from_b)] {
        match ctx.push(owner, owner, recs) {
            Err(e) => return fail_all(matrix, &format!("pushing the incoming replicas: {e}"), t0),
            Ok(refused) => {
                for i in refused {
                    errors[i] = Some(refused_verdict(&matrix[i], "incoming"));
                }
            }
        }
    }
    let pushed = Instant::now();
    // 4. Challenges and release demands run after the pull: wait until
    // every challenged holder was asked, then a little longer.
    if let Some(h) = &ctx.holders {
        // Until every holder that should hear from the target did, or
        // nothing new arrived for 3 s (at most 20 s).
        let deadline = Instant::now() + Duration::from_secs(20);
        let (mut last, mut quiet_since) = (usize::MAX, Instant::now());
        while Instant::now() < deadline {
            let mut total = 0;
            let mut pending = false;
            for (i, m) in matrix.iter().enumerate() {
                let seen = h.seen(&m.nbname);
                let n = seen.len();
                total += n;
                // Holders asked one after another: until the last one was.
                let asked = |want: &Vec<Ipv4Addr>| {
                    want.iter()
                        .all(|a| seen.iter().any(|s| s.to == *a && s.opcode == Opcode::Query))
                };
                pending |= errors[i].is_none()
                    && ((m.challenge.is_some() || m.release_demand) && n == 0
                        || m.asked.as_ref().is_some_and(|w| !asked(w)));
            }
            if total != last {
                (last, quiet_since) = (total, Instant::now());
            }
            // A silent holder address costs the target a wait of about 3 s.
            if !pending || quiet_since.elapsed() > Duration::from_secs(5) {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        // The last holder asked may stay silent: its wait has to run out.
        let serial = matrix.iter().any(|m| m.asked.is_some());
        std::thread::sleep(Duration::from_millis(if serial { 4500 } else { 1500 }));
    }
    let settled = pushed.elapsed();
    // 5. The target's view: every record of owners A, B and the target.
    let mut view: HashMap<NetbiosName, Vec<Rec>> = HashMap::new();
    for owner in [ctx.owner_a, ctx.owner_b, ctx.local] {
        match ctx.pull_all(owner) {
            Ok(recs) => {
                for r in recs {
                    if let nbns_wire::wrepl::OwnedRecordName::Netbios { name, .. } = &r.name {
                        view.entry(*name).or_default().push(matrix::from_wire(
                            &r,
                            ctx.who(owner),
                            &|a| ctx.who(a),
                        ));
                    }
                }
            }
            Err(e) => return fail_all(matrix, &format!("pulling the records of {owner}: {e}"), t0),
        }
    }
    let per_case = t0.elapsed() / matrix.len().max(1) as u32;
    eprintln!(
        "  pushed and pulled in {:.1}s (challenges settled in {:.1}s)",
        t0.elapsed().as_secs_f64(),
        settled.as_secs_f64()
    );
    matrix
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let verdict = match errors[i].take() {
                Some(v) => v,
                None => judge(
                    ctx,
                    m,
                    view.get(&m.nbname).map(Vec::as_slice).unwrap_or(&[]),
                ),
            };
            outcome(&m.name, &m.title, verdict, per_case)
        })
        .collect()
}

fn refused_verdict(m: &MatrixCase, which: &str) -> Verdict {
    let rec = if which == "existing" {
        &m.existing
    } else {
        &m.incoming
    };
    fail(
        format!("the target refused the {which} replica: it ended the pull without storing it"),
        format!("the {which} replica ({rec}) stored, then: {}", m.expect),
        format!(
            "the target closed the connection in the middle of its pull instead of stopping the association; a session with this record alone failed the same way ({})",
            m.nbname
        ),
    )
}

fn fail_all(matrix: &[MatrixCase], e: &str, t0: Instant) -> Vec<Outcome> {
    matrix
        .iter()
        .map(|m| {
            outcome(
                &m.name,
                &m.title,
                Verdict::Error(e.to_string()),
                t0.elapsed(),
            )
        })
        .collect()
}

fn judge(ctx: &Ctx, m: &MatrixCase, got: &[Rec]) -> Verdict {
    let seen = ctx
        .holders
        .as_ref()
        .map(|h| h.seen(&m.nbname))
        .unwrap_or_default();
    let queries = seen.iter().filter(|s| s.opcode == Opcode::Query).count();
    let releases = seen.iter().filter(|s| s.opcode == Opcode::Release).count();
    let got_text = match got {
        [] => "no active or tombstone record".to_string(),
        v => v
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    };
    let side = format!(
        "{got_text} (holders saw {queries} challenge quer{}, {releases} release demand{})",
        if queries == 1 { "y" } else { "ies" },
        if releases == 1 { "" } else { "s" }
    );
    let expected = format!(
        "{}{}",
        m.expect,
        if m.release_demand {
            ", and a release demand to the old holder"
        } else {
            ""
        }
    );
    if got.len() > 1 || !m.expect.matches(got.first()) {
        let what = match (&m.expect, got.first()) {
            (Expect::Record(w), Some(g)) if w.owner != g.owner => "record owner",
            (Expect::Record(w), Some(g)) if w.kind != g.kind => "record type",
            (Expect::Record(w), Some(g)) if w.state != g.state => "record state",
            (Expect::Record(w), Some(g)) if w.addrs != g.addrs => "record addresses",
            (Expect::Absent, Some(_)) => "record present",
            (_, None) => "record missing",
            _ => "record",
        };
        return fail(
            format!("{what}: expected {}, got {got_text}", m.expect),
            expected,
            side,
        );
    }
    if m.release_demand && releases == 0 {
        return fail(
            "no release demand reached the old holder".into(),
            expected,
            side,
        );
    }
    if let Some(want) = &m.asked {
        let mut got: Vec<Ipv4Addr> = Vec::new();
        for s in seen.iter().filter(|s| s.opcode == Opcode::Query) {
            if !got.contains(&s.to) {
                got.push(s.to);
            }
        }
        // One address at a time, stopping at the first positive answer: which holders were
        // asked is the rule; the order is the target's own list order (the AD DC's is not
        // always sorted), so the lists compare as sets.
        let (mut got_set, mut want_set) = (got.clone(), want.clone());
        got_set.sort();
        want_set.sort();
        if got_set != want_set {
            return fail(
                format!("holders asked: expected {want:?} in turn, got {got:?}"),
                expected,
                side,
            );
        }
    }
    if m.challenge.is_some() && queries == 0 {
        return fail(
            "no challenge query reached the holders".into(),
            expected,
            side,
        );
    }
    Verdict::Pass
}

/// Push by inform notification: the target connects back to the partner's
/// TCP 42 and pulls the new record.
fn inform_case(ctx: &Ctx) -> Outcome {
    let name = "push/inform-connect-back";
    let title = "inform notification: the target connects back to the partner on TCP 42 and pulls the new record";
    let t0 = Instant::now();
    let Some(listener) = &ctx.listener else {
        return outcome(
            name,
            title,
            Verdict::Skipped("no listener on the partner addresses' TCP 42".into()),
            t0.elapsed(),
        );
    };
    let nb = matrix::case_name(&ctx.token, 46655, 0x20);
    let v = ctx.version(ctx.owner_a);
    let rec = Rec {
        owner: Who::A,
        kind: Kind::Unique,
        state: RecState::Active,
        is_static: false,
        addrs: vec![matrix::NEW_ADDR],
        others: Vec::new(),
    };
    let wire = matrix::wire_record(&nb, &rec, v, &|w| ctx.addr_of(w));
    let snapshot = {
        let mut s = ctx.store.lock().unwrap_or_else(|p| p.into_inner());
        s.add(ctx.owner_a, wire);
        s.clone()
    };
    let before = listener.served.load(Ordering::Relaxed);
    if let Err(e) = ctx.session(ctx.owner_a, |c| {
        c.push(
            UpdateKind::Inform,
            ctx.owner_a,
            &snapshot,
            Some(&[ctx.owner_a]),
            T,
        )
    }) {
        return outcome(name, title, Verdict::Error(e), t0.elapsed());
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut present = false;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
        let asked = listener
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|&(_, o, min, max)| o == ctx.owner_a && min <= v && (max == 0 || max >= v));
        if asked {
            present = ctx
                .pull_all(ctx.owner_a)
                .map(|recs| {
                    recs.iter().any(|r| {
                        matches!(&r.name, nbns_wire::wrepl::OwnedRecordName::Netbios { name, .. } if *name == nb)
                    })
                })
                .unwrap_or(false);
            if present {
                break;
            }
        }
    }
    let served = listener.served.load(Ordering::Relaxed) - before;
    let verdict = if present {
        Verdict::Pass
    } else {
        fail(
            "the target did not pull the informed record".into(),
            format!("a connection to a partner's TCP 42 asking for owner {} version {v}, and the record at the target", ctx.owner_a),
            format!("{served} connection(s) to the partner listeners within 20 s"),
        )
    };
    outcome(name, title, verdict, t0.elapsed())
}

/// Whether the target still starts an association and answers a map request.
fn healthy(ctx: &Ctx) -> Result<(), String> {
    ctx.session(ctx.owner_b, |c| c.owner_map()).map(|_| ())
}

fn raw_start(len_word: u32, take: usize) -> Vec<u8> {
    let f = OwnedRepr {
        opcode: OPCODE_BITS,
        assoc_ctx: 0,
        message: OwnedMessage::StartAssociation(Start::new(partner::OUR_CTX)),
        padding: nbns_wire::wrepl::START_PADDING,
    }
    .to_vec()
    .unwrap_or_default();
    let mut v = f;
    v[..4].copy_from_slice(&len_word.to_be_bytes());
    v.truncate(take);
    v
}

fn replication_frame(ctx_handle: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((12 + body.len()) as u32).to_be_bytes());
    v.extend_from_slice(&OPCODE_BITS.to_be_bytes());
    v.extend_from_slice(&ctx_handle.to_be_bytes());
    v.extend_from_slice(&3u32.to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// Hostile frames on TCP 42; after each the target must still associate
/// and answer a map request.
fn hostile_cases(ctx: &Ctx, selected: &dyn Fn(&str) -> bool) -> Vec<Outcome> {
    type Attack = fn(&Ctx) -> Result<String, String>;
    let cases: Vec<(&str, &str, Attack)> = vec![
        (
            "hostile/huge-length",
            "a length word of 0xfffffff0 followed by junk, then close",
            |ctx| {
                let mut c =
                    Conn::connect(Some(ctx.owner_b), ctx.target, T).map_err(|e| e.to_string())?;
                let mut v = 0xffff_fff0u32.to_be_bytes().to_vec();
                v.extend_from_slice(&[0x41; 4096]);
                c.send_raw(&v).map_err(|e| e.to_string())?;
                Ok(observe(&mut c))
            },
        ),
        (
            "hostile/short-length",
            "a length word of 4 (shorter than the header)",
            |ctx| {
                let mut c =
                    Conn::connect(Some(ctx.owner_b), ctx.target, T).map_err(|e| e.to_string())?;
                c.send_raw(&[0, 0, 0, 4, 0, 0, 0x78, 0])
                    .map_err(|e| e.to_string())?;
                Ok(observe(&mut c))
            },
        ),
        (
            "hostile/length-lie-long",
            "a start association whose length word says 100 while 41 bytes follow, then close",
            |ctx| {
                let mut c =
                    Conn::connect(Some(ctx.owner_b), ctx.target, T).map_err(|e| e.to_string())?;
                c.send_raw(&raw_start(100, 45)).map_err(|e| e.to_string())?;
                Ok(observe(&mut c))
            },
        ),
        (
            "hostile/length-lie-short",
            "a start association whose length word says 20 (the rest read as the next frame)",
            |ctx| {
                let mut c =
                    Conn::connect(Some(ctx.owner_b), ctx.target, T).map_err(|e| e.to_string())?;
                c.send_raw(&raw_start(20, 45)).map_err(|e| e.to_string())?;
                Ok(observe(&mut c))
            },
        ),
        (
            "hostile/truncated-send-entries-request",
            "after a start association, a send-entries request whose owner record is cut short",
            |ctx| {
                let mut c =
                    Conn::connect(Some(ctx.owner_b), ctx.target, T).map_err(|e| e.to_string())?;
                c.start_association().map_err(|e| e.to_string())?;
                let body = [0, 0, 0, 2, 127, 0, 0, 3, 0, 0];
                c.send_raw(&replication_frame(c.peer_ctx, &body))
                    .map_err(|e| e.to_string())?;
                Ok(observe(&mut c))
            },
        ),
        (
            "hostile/truncated-records",
            "an unsolicited send-entries reply claiming 1000 records with one cut short",
            |ctx| {
                let mut c =
                    Conn::connect(Some(ctx.owner_b), ctx.target, T).map_err(|e| e.to_string())?;
                c.start_association().map_err(|e| e.to_string())?;
                let mut body = vec![0, 0, 0, 3, 0, 0, 0x03, 0xe8];
                body.extend_from_slice(&[0, 0, 0, 0x11]);
                body.extend_from_slice(b"TRUNCATED  ");
                c.send_raw(&replication_frame(c.peer_ctx, &body))
                    .map_err(|e| e.to_string())?;
                Ok(observe(&mut c))
            },
        ),
        (
            "hostile/bad-records-in-pull",
            "an update, then a send-entries reply whose record claims a name length of 0x7fffffff",
            |ctx| {
                let mut c =
                    Conn::connect(Some(ctx.owner_b), ctx.target, T).map_err(|e| e.to_string())?;
                c.start_association().map_err(|e| e.to_string())?;
                let owner = Ipv4Addr::new(127, 66, 0, 1);
                let v = ctx.version(owner);
                send_update(&mut c, owner, v, ctx.owner_b)?;
                let r = c
                    .recv("a send-entries request")
                    .map_err(|e| e.to_string())?;
                let dest = r.assoc_ctx;
                let mut body = vec![0, 0, 0, 3, 0, 0, 0, 1];
                body.extend_from_slice(&0x7fff_ffffu32.to_be_bytes());
                body.extend_from_slice(&[0x42; 40]);
                c.send_raw(&replication_frame(dest, &body))
                    .map_err(|e| e.to_string())?;
                Ok(format!(
                    "the target asked for the records; {}",
                    observe(&mut c)
                ))
            },
        ),
        (
            "hostile/bad-association-handle",
            "a map request with an association handle the target never gave",
            |ctx| {
                let mut c =
                    Conn::connect(Some(ctx.owner_b), ctx.target, T).map_err(|e| e.to_string())?;
                c.start_association().map_err(|e| e.to_string())?;
                c.send_raw(&replication_frame(c.peer_ctx ^ 0x5a5a_5a5a, &[0, 0, 0, 0]))
                    .map_err(|e| e.to_string())?;
                Ok(observe(&mut c))
            },
        ),
        (
            "hostile/no-association",
            "a map request and an update without any start association",
            |ctx| {
                let mut c =
                    Conn::connect(Some(ctx.owner_b), ctx.target, T).map_err(|e| e.to_string())?;
                c.send_raw(&replication_frame(0, &[0, 0, 0, 0]))
                    .map_err(|e| e.to_string())?;
                Ok(observe(&mut c))
            },
        ),
        (
            "hostile/half-frame-stall",
            "half a start association, then silence: another partner must be served meanwhile",
            |ctx| {
                let mut c =
                    Conn::connect(Some(ctx.owner_b), ctx.target, T).map_err(|e| e.to_string())?;
                c.send_raw(&raw_start(41, 10)).map_err(|e| e.to_string())?;
                std::thread::sleep(Duration::from_millis(300));
                let t = Instant::now();
                healthy(ctx).map_err(|e| format!("while a half frame stalls: {e}"))?;
                let during = t.elapsed();
                let more = match c.recv_within(Duration::from_secs(2), "anything") {
                    Ok(r) => format!("then sent {:?}", r.message),
                    Err(e) => format!("then {e}"),
                };
                Ok(format!("another association was served in {} ms during the stall; the stalled connection: {more}", during.as_millis()))
            },
        ),
    ];
    let mut out = Vec::new();
    for (name, title, attack) in cases {
        if !selected(name) {
            continue;
        }
        let t0 = Instant::now();
        let verdict = match attack(ctx) {
            Err(e) => Verdict::Error(e),
            Ok(seen) => match healthy(ctx) {
                Ok(()) => Verdict::Pass,
                Err(e) => fail(
                    format!("the target no longer answers: {e}"),
                    "a new association and a map reply".into(),
                    format!("after the attack: {seen}; then {e}"),
                ),
            },
        };
        out.push(outcome(name, title, verdict, t0.elapsed()));
    }
    out
}

/// What the target does after an attack: a frame, a close, or nothing (1 s).
fn observe(c: &mut Conn) -> String {
    match c.recv_within(Duration::from_secs(1), "a reaction") {
        Ok(r) => format!("the target answered {:?}", r.message),
        Err(partner::PartnerError::Timeout(_)) => "the target stayed silent for 1 s".into(),
        Err(partner::PartnerError::Closed(_)) => "the target closed the connection".into(),
        Err(e) => e.to_string(),
    }
}

/// Registers `n` fresh names from a holder and returns the versions the
/// target gave them (from a pull of its own records).
fn register_and_versions(ctx: &Ctx, tag: &str, n: usize) -> Result<Vec<u64>, String> {
    let h = ctx
        .holders
        .as_ref()
        .ok_or("no holder sockets on UDP 137 (needs root in the target's namespace)")?;
    let from = *ctx.holder_addrs.last().unwrap_or(&ctx.holder_addrs[0]);
    let mut names = Vec::new();
    for i in 0..n {
        let mut s = format!("WV{}{tag}{i}", ctx.token).into_bytes();
        s.truncate(15);
        let nb = NetbiosName::new(&s, 0).map_err(|e| e.to_string())?;
        let rc = h
            .register(from, &nb, false, false)
            .map_err(|e| e.to_string())?;
        if rc != Rcode::NoError {
            return Err(format!("registration of {nb} answered {rc}"));
        }
        names.push(nb);
    }
    let recs = ctx.pull_all(ctx.local)?;
    let mut out = Vec::new();
    for nb in &names {
        let v = recs
            .iter()
            .find(|r| matches!(&r.name, nbns_wire::wrepl::OwnedRecordName::Netbios { name, .. } if name == nb))
            .map(|r| r.version)
            .ok_or_else(|| format!("{nb} is not among the target's own records"))?;
        out.push(v);
    }
    Ok(out)
}

fn local_max(ctx: &Ctx) -> Result<u64, String> {
    Ok(ctx
        .map()?
        .iter()
        .find(|o| o.address == ctx.local)
        .map_or(0, |o| o.max_version))
}

/// Runs a `--restart-cmd`.
fn restart_by_command(cmd: &str) -> Result<(), String> {
    let st = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run the restart command: {e}"))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("the restart command failed ({st})"))
    }
}

/// The embedded reference target as a replication partner of the runner:
/// NBNS on [`embedded::EMBEDDED_ADDR`]:137, replication on :42, its database
/// in a file of its own (removed at the end) so that it survives a restart.
struct EmbeddedWins {
    server: Mutex<Option<embedded::EmbeddedServer>>,
    cfg: nbns_reference::WinsServerConfig,
    wrepl: SocketAddrV4,
    db: PathBuf,
}

impl EmbeddedWins {
    fn start(partners: &[Ipv4Addr]) -> Result<EmbeddedWins, String> {
        let ip = embedded::EMBEDDED_ADDR;
        let db =
            std::env::temp_dir().join(format!("nbns-verify-embedded-{}.redb", std::process::id()));
        let _ = std::fs::remove_file(&db);
        let mut packet = nbns_reference::PacketConfig::new(embedded::EMBEDDED_NAME, ip);
        packet.challenge_port = nbns_wire::nbns::PORT;
        let mut cfg = nbns_reference::WinsServerConfig::new(packet);
        cfg.db = Some(db.clone());
        let mut service = nbns_reference::replication::ReplicationConfig::new(ip);
        service.partners = partners
            .iter()
            .map(|p| SocketAddrV4::new(*p, nbns_wire::wrepl::PORT))
            .collect();
        cfg.replication = Some(service);
        let server = Self::launch(&cfg)?;
        let wrepl = server.wrepl_addr().ok_or("replication did not start")?;
        Ok(EmbeddedWins {
            server: Mutex::new(Some(server)),
            cfg,
            wrepl,
            db,
        })
    }

    fn launch(cfg: &nbns_reference::WinsServerConfig) -> Result<embedded::EmbeddedServer, String> {
        let bind = SocketAddrV4::new(cfg.packet.addr, nbns_wire::nbns::PORT);
        embedded::EmbeddedServer::start_with(cfg.clone(), bind).map_err(|e| e.to_string())
    }

    /// Stops the server and starts it again on the same database.
    fn restart(&self) -> Result<(), String> {
        let mut g = self.server.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = g.take() {
            s.stop()
                .map_err(|e| format!("the reference target had stopped: {e}"))?;
        }
        *g = Some(Self::launch(&self.cfg)?);
        Ok(())
    }
}

impl Drop for EmbeddedWins {
    fn drop(&mut self) {
        if let Some(s) = self
            .server
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = s.stop();
        }
        let _ = std::fs::remove_file(&self.db);
    }
}

fn version_cases(
    ctx: &Ctx,
    selected: &dyn Fn(&str) -> bool,
    restart: Option<&(dyn Fn() -> Result<(), String> + '_)>,
) -> Vec<Outcome> {
    let mut out = Vec::new();
    let n1 = "version-id/increase";
    let n2 = "version-id/across-restart";
    if !selected(n1) && !selected(n2) {
        return out;
    }
    let t0 = Instant::now();
    let first = (|| {
        let before = local_max(ctx)?;
        let v = register_and_versions(ctx, "A", 3)?;
        let after = local_max(ctx)?;
        Ok::<_, String>((before, v, after))
    })();
    let before_restart = match &first {
        Ok((before, v, after)) => {
            let increasing = v.windows(2).all(|w| w[0] < w[1]);
            let verdict = if increasing && v[0] > *before && *after >= v[v.len() - 1] {
                Verdict::Pass
            } else {
                fail(
                    "versions of new registrations do not strictly increase".into(),
                    format!("versions above {before}, increasing, map max at least the last"),
                    format!("versions {v:?}, map max before {before}, after {after}"),
                )
            };
            if selected(n1) {
                out.push(outcome(
                    n1,
                    "the target's versions for its own records strictly increase",
                    verdict,
                    t0.elapsed(),
                ));
            }
            Some(*after)
        }
        Err(e) => {
            if selected(n1) {
                out.push(outcome(
                    n1,
                    "the target's versions for its own records strictly increase",
                    Verdict::Error(e.clone()),
                    t0.elapsed(),
                ));
            }
            None
        }
    };
    if !selected(n2) {
        return out;
    }
    let title = "the target's versions keep increasing across a restart (MS-WINSRA)";
    let t1 = Instant::now();
    let (Some(restart), Some(max1)) = (restart, before_restart) else {
        out.push(outcome(
            n2,
            title,
            Verdict::Skipped(if restart.is_none() {
                "no --restart-cmd given".into()
            } else {
                "the first half failed".into()
            }),
            t1.elapsed(),
        ));
        return out;
    };
    let verdict = (|| {
        restart()?;
        // Bounded wait until the target answers again.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match healthy(ctx) {
                Ok(()) => break,
                Err(e) if Instant::now() >= deadline => {
                    return Err(format!("the target does not answer after the restart: {e}"))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(300)),
            }
        }
        let map_after = local_max(ctx)?;
        let v = register_and_versions(ctx, "B", 2)?;
        Ok((map_after, v))
    })();
    out.push(match verdict {
        Err(e) => outcome(n2, title, Verdict::Error(e), t1.elapsed()),
        Ok((map_after, v)) => {
            let ok = map_after >= max1
                && v.iter().all(|&x| x > max1)
                && v.windows(2).all(|w| w[0] < w[1]);
            outcome(
                n2,
                title,
                if ok {
                    Verdict::Pass
                } else {
                    fail(
                        "versions went back after the restart".into(),
                        format!(
                            "map max at least {max1} after the restart, new versions above {max1}"
                        ),
                        format!("map max {map_after} after the restart, new versions {v:?}"),
                    )
                },
                t1.elapsed(),
            )
        }
    });
    out
}

/// Sends an update notification (MS-WINSRA 2.2.8, RplOpCode 4) on `c`: `owner`'s records
/// from version 1 to `max_version` are to be had, announced by `initiator`.
fn send_update(
    c: &mut Conn,
    owner: Ipv4Addr,
    max_version: u64,
    initiator: Ipv4Addr,
) -> Result<(), String> {
    c.send(&OwnedRepr {
        opcode: OPCODE_BITS,
        assoc_ctx: c.peer_ctx,
        message: OwnedMessage::Replication(OwnedReplication::UpdateNotification {
            kind: UpdateKind::Update,
            owners: vec![OwnerRecord {
                address: owner,
                max_version,
                min_version: 1,
                owner_type: 1,
            }],
            initiator,
        }),
        padding: 0,
    })
    .map_err(|e| e.to_string())
}
