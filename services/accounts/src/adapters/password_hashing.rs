//! Password hashing: argon2id at OWASP parameters, run on a thread pool of its own with bounded
//! concurrency and a lowered priority, so a flood of logins cannot starve the async workers that
//! serve everything else.

use std::cell::RefCell;
use std::sync::Arc;

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use causerie_core::Error;

use crate::domain::password::Password;

/// OWASP's argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;
/// Bytes of salt and of hash output in a new hash (the argon2 crate's defaults).
const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;

/// Hashing runs on a pool of its own, one thread per core, each in the idle scheduling class: a
/// flood of sign-ins uses every idle cycle but yields the CPU at once to the async workers that
/// answer everything else, so it slows sign-ins, not the platform. The queue in front of the pool is bounded, so a flood waits
/// there instead of piling up threads or memory.
#[derive(Clone)]
pub struct PasswordHashing {
    jobs: tokio::sync::mpsc::Sender<HashJob>,
    /// Checked against for unknown accounts, so an unknown e-mail costs as much as a wrong password.
    dummy_hash: Arc<String>,
    deadline: std::time::Duration,
}

type HashJob = Box<dyn FnOnce() + Send>;

/// Jobs waiting for a hashing thread before callers wait to enqueue.
const QUEUE_DEPTH: usize = 256;
/// How long a caller waits for its hash, queueing included, before it is answered `503`. In the
/// idle class the pool gets no CPU at all while the rest of the platform saturates it: sign-ins
/// then fail fast instead of hanging, and a job whose caller gave up is skipped.
const HASH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// Puts the calling thread in Linux's `SCHED_IDLE` class: it runs only on cycles no other
/// thread wants, and yields at once when one wakes. Elsewhere, the lowest nice value.
fn lower_own_priority() -> Result<(), String> {
    use thread_priority::ThreadPriority;
    // `Min`, not `Crossplatform(0)`: the crate maps the latter to nice 19, which SCHED_IDLE (whose
    // only priority is 0) refuses, and the threads silently stayed at normal priority.
    #[cfg(target_os = "linux")]
    let outcome = thread_priority::set_thread_priority_and_policy(
        thread_priority::thread_native_id(),
        ThreadPriority::Min,
        thread_priority::ThreadSchedulePolicy::Normal(thread_priority::NormalThreadSchedulePolicy::Idle),
    );
    #[cfg(not(target_os = "linux"))]
    let outcome = thread_priority::set_current_thread_priority(ThreadPriority::Min);
    outcome.map_err(|error| error.to_string())
}

/// One hashing thread: takes jobs until every sender is gone, then ends.
fn hashing_thread(jobs: Arc<std::sync::Mutex<tokio::sync::mpsc::Receiver<HashJob>>>) {
    if let Err(error) = lower_own_priority() {
        tracing::warn!(%error, "password hashing runs at normal priority");
    }
    loop {
        let job = match jobs.lock() {
            Ok(mut receiver) => receiver.blocking_recv(),
            Err(_) => None,
        };
        match job {
            Some(job) => job(),
            None => return,
        }
    }
}

impl PasswordHashing {
    /// Starts the pool, and makes the dummy hash on it: argon2 runs on the pool's threads only,
    /// whose working memory is kept (an async worker would keep 19 MiB for nothing).
    pub async fn start() -> Result<Self, Error> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let (sender, receiver) = tokio::sync::mpsc::channel::<HashJob>(QUEUE_DEPTH);
        let receiver = Arc::new(std::sync::Mutex::new(receiver));
        for index in 0..cores {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("password-hashing-{index}"))
                .spawn(move || hashing_thread(receiver))
                .map_err(Error::internal)?;
        }
        let mut hashing = Self { jobs: sender, dummy_hash: Arc::new(String::new()), deadline: HASH_DEADLINE };
        hashing.dummy_hash =
            Arc::new(hashing.on_pool(|| hash_now("causerie dummy password for unknown accounts")).await?);
        Ok(hashing)
    }

    /// Runs `work` on the hashing pool, waiting at most the deadline. A job already running
    /// finishes (the pool's size, not the callers', bounds the work in flight); one whose caller
    /// is gone, cancelled or past the deadline, is skipped when its turn comes.
    async fn on_pool<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: HashJob = Box::new(move || {
            // A caller that gave up (past the deadline, or gone) is not worked for.
            if reply.is_closed() {
                return;
            }
            let _ = reply.send(work());
        });
        let hashed = async {
            self.jobs.send(job).await.map_err(|_| Error::internal("the password hashing pool has stopped"))?;
            answer.await.map_err(|_| Error::internal("a password hashing job was lost"))?
        };
        tokio::time::timeout(self.deadline, hashed)
            .await
            .map_err(|_| Error::unavailable("too many sign-ins at once; try again in a moment"))?
    }

    pub async fn hash(&self, password: &Password) -> Result<String, Error> {
        let text = password.expose().to_owned();
        self.on_pool(move || hash_now(&text)).await
    }

    /// Whether `password` matches `stored`; with no stored hash, checks against the dummy hash
    /// and answers `Mismatch`, taking the same time.
    pub async fn verify(&self, password: &Password, stored: Option<&str>) -> Result<Verdict, Error> {
        let known = stored.is_some();
        let stored = stored.map_or_else(|| self.dummy_hash.as_str().to_owned(), str::to_owned);
        let text = password.expose().to_owned();
        let verdict = self.on_pool(move || verify_now(&text, &stored)).await?;
        Ok(if known { verdict } else { Verdict::Mismatch })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Mismatch,
    /// `outdated`: the hash was made with other parameters than today's, so it is redone now
    /// that the password is at hand.
    Match {
        outdated: bool,
    },
}

impl Verdict {
    pub fn matches(self) -> bool {
        matches!(self, Self::Match { .. })
    }
}

fn at_current_parameters(hash: &PasswordHash) -> bool {
    let Ok(params) = Params::try_from(hash) else { return false };
    hash.algorithm == Algorithm::Argon2id.ident()
        && hash.version == Some(Version::V0x13 as u32)
        && params.m_cost() == MEMORY_KIB
        && params.t_cost() == ITERATIONS
        && params.p_cost() == LANES
}

thread_local! {
    /// This thread's argon2 working memory (19 MiB), kept from one hash to the next; only the
    /// pool's threads and `causerie hash-cost` hash. Allocated per hash, it cost a fresh mapping,
    /// thousands of page faults and an unmapping each time, kernel work beside the hash itself.
    /// Argon2 writes every block before reading it, so nothing of one password's hash is read by
    /// the next.
    static WORKING_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs argon2 with `params` on this thread's working memory.
fn run_argon2(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), Error> {
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    WORKING_MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, Block::new());
        }
        let working = memory.get_mut(..blocks).ok_or_else(|| Error::internal("argon2 memory"))?;
        let hashed = argon2.hash_password_into_with_memory(password, salt, out, working).map_err(Error::internal);
        // A stored hash of a higher cost is verified once and then redone at the service's
        // parameters: the memory it took is not kept for every later hash.
        if memory.len() > KEPT_BLOCKS {
            memory.truncate(KEPT_BLOCKS);
            memory.shrink_to_fit();
        }
        hashed
    })
}

/// Blocks of working memory a hashing thread keeps: the service's own cost (a block is 1 KiB).
const KEPT_BLOCKS: usize = MEMORY_KIB as usize;

pub fn hash_now(text: &str) -> Result<String, Error> {
    let mut salt = [0_u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|error| Error::internal(error.to_string()))?;
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, Some(OUTPUT_LEN)).map_err(Error::internal)?;
    let mut out = [0_u8; OUTPUT_LEN];
    run_argon2(Algorithm::Argon2id, Version::V0x13, params.clone(), text.as_bytes(), &salt, &mut out)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(Error::internal)?,
        salt: Some(Salt::new(&salt).map_err(Error::internal)?),
        hash: Some(Output::new(&out).map_err(Error::internal)?),
    };
    Ok(hash.to_string())
}

/// Checks `text` against a stored PHC string, with the parameters it was made with.
fn verify_now(text: &str, stored: &str) -> Result<Verdict, Error> {
    let parsed = PasswordHash::new(stored).map_err(Error::internal)?;
    let params = Params::try_from(&parsed).map_err(Error::internal)?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(Error::internal)?;
    let version = parsed.version.map(Version::try_from).transpose().map_err(Error::internal)?.unwrap_or_default();
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err(Error::internal("a stored password hash lacks its salt or output"));
    };
    let mut out = vec![0_u8; expected.len()];
    run_argon2(algorithm, version, params, text.as_bytes(), salt.as_ref(), &mut out)?;
    if !crate::domain::secret::same(&out, expected.as_bytes()) {
        return Ok(Verdict::Mismatch);
    }
    Ok(Verdict::Match { outdated: !at_current_parameters(&parsed) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{PasswordHasher, PasswordVerifier};

    #[tokio::test]
    async fn a_hash_that_waits_past_the_deadline_is_answered_unavailable_and_skipped() {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let patient = PasswordHashing::start().await.unwrap();
        let mut hurried = patient.clone();
        hurried.deadline = std::time::Duration::from_millis(200);
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        // Every hashing thread busy with a job that holds it until released.
        let (started, release) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let mut blockers = tokio::task::JoinSet::new();
        for _ in 0..cores {
            let (patient, started, release) = (patient.clone(), Arc::clone(&started), Arc::clone(&release));
            blockers.spawn(async move {
                patient
                    .on_pool(move || {
                        started.fetch_add(1, Ordering::SeqCst);
                        while !release.load(Ordering::SeqCst) {
                            std::thread::sleep(std::time::Duration::from_millis(5));
                        }
                        Ok(())
                    })
                    .await
            });
        }
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while started.load(Ordering::SeqCst) < cores {
            assert!(tokio::time::Instant::now() < deadline, "the hashing threads never took their jobs");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }

        // Queued behind them, its caller gives up at the deadline...
        let late_ran = Arc::new(AtomicBool::new(false));
        let late = {
            let late_ran = Arc::clone(&late_ran);
            hurried.on_pool(move || {
                late_ran.store(true, Ordering::SeqCst);
                Ok(())
            })
        };
        assert_eq!(late.await.err().map(|error| error.code()), Some(causerie_core::ErrorCode::Unavailable));
        // ...and once the threads are free, the job is skipped: a job queued after it runs, and it
        // did not.
        release.store(true, Ordering::SeqCst);
        while let Some(outcome) = blockers.join_next().await {
            assert!(outcome.unwrap().is_ok());
        }
        patient.on_pool(|| Ok(())).await.unwrap();
        assert!(!late_ran.load(Ordering::SeqCst), "a job whose caller was gone was worked for");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn hashing_threads_run_in_the_idle_scheduling_class() {
        let policy = std::thread::spawn(|| {
            lower_own_priority().unwrap();
            thread_priority::thread_schedule_policy().unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(
            policy,
            thread_priority::ThreadSchedulePolicy::Normal(thread_priority::NormalThreadSchedulePolicy::Idle)
        );
    }

    #[tokio::test]
    async fn hashes_are_argon2id_at_owasp_parameters_and_verify() {
        let hashing = PasswordHashing::start().await.unwrap();
        let password = Password::new_from("password", "correct horse battery".into(), &[]).unwrap();
        let hash = hashing.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert_eq!(hashing.verify(&password, Some(&hash)).await.unwrap(), Verdict::Match { outdated: false });
        let wrong = Password::attempt("incorrect horse battery".into()).unwrap();
        assert_eq!(hashing.verify(&wrong, Some(&hash)).await.unwrap(), Verdict::Mismatch);
        assert_eq!(hashing.verify(&password, None).await.unwrap(), Verdict::Mismatch);
        // A standard PHC string: the argon2 crate's own verifier accepts it.
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse battery", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"correct horse battery!", &parsed).is_err());
    }

    #[tokio::test]
    async fn a_hash_made_with_older_parameters_verifies_and_asks_to_be_redone() {
        let hashing = PasswordHashing::start().await.unwrap();
        let password = Password::new_from("password", "correct horse battery".into(), &[]).unwrap();
        let weaker = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8 * 1024, 1, 1, None).unwrap());
        let old_hash = weaker.hash_password(b"correct horse battery").unwrap().to_string();
        assert_eq!(hashing.verify(&password, Some(&old_hash)).await.unwrap(), Verdict::Match { outdated: true });
    }

    #[test]
    fn a_costlier_stored_hash_does_not_leave_its_memory_to_the_thread() {
        let costlier = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(48 * 1024, 1, 1, None).unwrap());
        let stored = costlier.hash_password(b"correct horse battery").unwrap().to_string();
        assert_eq!(verify_now("correct horse battery", &stored).unwrap(), Verdict::Match { outdated: true });
        let kept = WORKING_MEMORY.with_borrow(|memory| (memory.len(), memory.capacity()));
        assert_eq!(kept, (KEPT_BLOCKS, KEPT_BLOCKS));
        hash_now("correct horse battery").unwrap();
        assert_eq!(WORKING_MEMORY.with_borrow(Vec::len), KEPT_BLOCKS, "the service's own hashes keep theirs");
    }
}
