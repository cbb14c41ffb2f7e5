//! In-kernel tests: registered with `kernel_test!` (through `linkme`), run when the
//! command line says `test[=FILTER]`, reported like libtest, verdict through QEMU's exit
//! device.
//!
//! ```ignore
//! kernel_test! {
//!     fn alloc_free() {
//!         let f = frames::alloc_low().ok_or("no frame")?;
//!         check_eq!(f.addr() % 4096, 0);
//!     }
//! }
//! ```
//!
//! A test returns `Err` through `check!`/`check_eq!` (or `?` on a `&str` error); a panic or
//! fault inside a test ends the run, which the runner reports under the test's name.

use crate::kprintln;
use alloc::string::String;
use alloc::vec::Vec;
use arch::qemu_exit::{Verdict, exit};
use core::panic::Location;

/// Why a test failed, and where.
pub struct TestFailure {
    pub message: String,
    pub location: &'static Location<'static>,
}

impl From<&str> for TestFailure {
    #[track_caller]
    fn from(message: &str) -> Self {
        TestFailure {
            message: message.into(),
            location: Location::caller(),
        }
    }
}

pub type TestResult = Result<(), TestFailure>;

/// A registered test.
pub struct KernelTest {
    /// `module::path::name`, without the crate name.
    pub path: &'static str,
    pub run: fn() -> TestResult,
}

impl KernelTest {
    /// The test's name as printed and filtered: its path without the crate and without
    /// the `tests` module it is declared in (`mm::frames::alloc_free`).
    pub fn name(&self) -> String {
        let path = self.path.strip_prefix("kernel::").unwrap_or(self.path);
        path.replace("::tests::", "::")
    }
}

#[linkme::distributed_slice]
pub static KERNEL_TESTS: [KernelTest];

/// Defines a test function and registers it.
#[macro_export]
macro_rules! kernel_test {
    ($(#[$meta:meta])* fn $name:ident() { $($body:tt)* }) => {
        $(#[$meta])*
        fn $name() -> $crate::ktest::TestResult {
            $($body)*
            #[allow(unreachable_code)]
            Ok(())
        }
        const _: () = {
            #[linkme::distributed_slice($crate::ktest::KERNEL_TESTS)]
            static TEST: $crate::ktest::KernelTest = $crate::ktest::KernelTest {
                path: concat!(module_path!(), "::", stringify!($name)),
                run: $name,
            };
        };
    };
}

/// Fails the test unless `cond` holds.
#[macro_export]
macro_rules! check {
    ($cond:expr) => { $crate::check!($cond, "check failed: {}", stringify!($cond)) };
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::ktest::TestFailure {
                message: alloc::format!($($msg)+),
                location: core::panic::Location::caller(),
            });
        }
    };
}

/// Fails the test unless `left == right`, showing both (and a message, when given).
#[macro_export]
macro_rules! check_eq {
    ($left:expr, $right:expr $(,)?) => {
        $crate::check_eq!($left, $right, "")
    };
    ($left:expr, $right:expr, $($msg:tt)+) => {
        match (&$left, &$right) {
            (l, r) => $crate::check!(
                *l == *r,
                "check_eq failed: {} == {} {}\n      left: {:?}\n     right: {:?}",
                stringify!($left),
                stringify!($right),
                alloc::format!($($msg)+),
                l,
                r
            ),
        }
    };
}

/// Runs every test whose name contains `filter` and ends the run with the verdict.
pub fn run(filter: &str) -> ! {
    let selected: Vec<_> = KERNEL_TESTS
        .iter()
        .map(|t| (t.name(), t.run))
        .filter(|(name, _)| name.contains(filter))
        .collect();
    kprintln!(
        "running {} kernel tests ({} filtered out)",
        selected.len(),
        KERNEL_TESTS.len() - selected.len()
    );
    run_selected(selected)
}

/// The harness's negative control (`crash=failing-test`): one test that passes and one
/// that fails, through the same code path as the real suite, so the runner's tests can
/// show that a failure is reported by name and fails the run.
pub fn run_failing_selfcheck() -> ! {
    fn passes() -> TestResult {
        crate::check_eq!(1 + 1, 2);
        Ok(())
    }
    fn fails() -> TestResult {
        crate::check_eq!(1 + 1, 3);
        Ok(())
    }
    kprintln!("running 2 harness self-check tests");
    run_selected(alloc::vec![
        (
            String::from("ktest::selfcheck::passes"),
            passes as fn() -> TestResult
        ),
        (String::from("ktest::selfcheck::fails"), fails),
    ])
}

fn run_selected(selected: Vec<(String, fn() -> TestResult)>) -> ! {
    let total = selected.len();
    let mut failures = Vec::new();
    for (name, run) in selected {
        crate::kprint!("test {name} ... ");
        match run() {
            Ok(()) => kprintln!("ok"),
            Err(f) => {
                kprintln!("FAILED");
                failures.push((name, f));
            }
        }
    }
    if !failures.is_empty() {
        kprintln!("\nfailures:");
        for (name, f) in &failures {
            kprintln!(
                "---- {name} ----\n    {}\n    at {}:{}",
                f.message,
                f.location.file(),
                f.location.line()
            );
        }
        kprintln!();
    }
    kprintln!(
        "{} passed, {} failed",
        total - failures.len(),
        failures.len()
    );
    exit(if failures.is_empty() {
        Verdict::Success
    } else {
        Verdict::TestsFailed
    })
}
