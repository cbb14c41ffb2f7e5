//! [`Checks`]: how a program reports what it verified and turns it into its exit status.

use core::fmt;

/// Counts passed and failed checks; each is printed as `ok: ...` or `FAIL: ...`.
pub struct Checks {
    name: &'static str,
    passed: u32,
    failed: u32,
}

impl Checks {
    /// Checks of program `name` (printed in the closing line).
    pub const fn new(name: &'static str) -> Self {
        Checks {
            name,
            passed: 0,
            failed: 0,
        }
    }

    /// Records `ok` for `what`; returns `ok`.
    pub fn check(&mut self, ok: bool, what: fmt::Arguments) -> bool {
        if ok {
            self.passed += 1;
            crate::println!("ok: {what}");
        } else {
            self.failed += 1;
            crate::println!("FAIL: {what}");
        }
        ok
    }

    /// Checks `got == want`: `ok: WHAT = got` or `FAIL: WHAT = got, expected want`.
    pub fn eq<T: PartialEq + fmt::Debug>(&mut self, what: &str, got: T, want: T) -> bool {
        self.eq_fmt(format_args!("{what}"), got, want)
    }

    /// [`Checks::eq`] whose WHAT is formatted (`format_args!`), for names built at run time.
    pub fn eq_fmt<T: PartialEq + fmt::Debug>(
        &mut self,
        what: fmt::Arguments,
        got: T,
        want: T,
    ) -> bool {
        if got == want {
            self.check(true, format_args!("{what} = {got:?}"))
        } else {
            self.check(false, format_args!("{what} = {got:?}, expected {want:?}"))
        }
    }

    /// Whether every check so far passed.
    pub fn all_passed(&self) -> bool {
        self.failed == 0
    }

    /// Prints `NAME: all N checks passed` (status 0) or `NAME: F of N checks FAILED`
    /// (status 1) and returns the status.
    pub fn finish(self) -> i32 {
        let total = self.passed + self.failed;
        if self.failed == 0 {
            crate::println!("{}: all {total} checks passed", self.name);
            0
        } else {
            crate::println!("{}: {} of {total} checks FAILED", self.name, self.failed);
            1
        }
    }
}
