//! Letting the host stop a long computation. Core code calls [`check`] in every loop whose length
//! an input decides (tokenizing, highlighting, parsing a transcript, building and merging index
//! segments, folding aggregate states); the host installs, once, what a check does. Inside
//! PostgreSQL the hook processes pending interrupts, so a cancel request or `statement_timeout`
//! stops the loop by raising its error from the check (which unwinds out of the core). Without a
//! hook, as in the core's own tests and tools, a check does nothing.

use std::sync::OnceLock;

static HOOK: OnceLock<fn()> = OnceLock::new();

/// Installs what [`check`] does. The first hook installed stays; later calls are ignored, which
/// is what a host that loads once wants.
pub fn install(hook: fn()) {
    let _ = HOOK.set(hook);
}

/// Gives the host the chance to stop the current computation. Cheap enough to call once per
/// token or row.
#[inline]
pub fn check() {
    if let Some(hook) = HOOK.get() {
        hook();
    }
}

/// Calls [`check`] once every `every` steps of a loop, for loops whose steps cost nanoseconds.
#[derive(Debug)]
pub struct Every {
    every: u32,
    left: u32,
}

impl Every {
    pub fn new(every: u32) -> Every {
        let every = every.max(1);
        Every { every, left: every }
    }

    /// Counts one step, checking when `every` of them have passed since the last check.
    #[inline]
    pub fn step(&mut self) {
        self.left -= 1;
        if self.left == 0 {
            self.left = self.every;
            check();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counts_steps_between_checks() {
        let mut every = Every::new(3);
        for _ in 0..7 {
            every.step();
        }
        assert_eq!(every.left, 2);
        assert_eq!(Every::new(0).every, 1);
    }
}
