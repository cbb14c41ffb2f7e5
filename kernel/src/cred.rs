//! A process's user and group ids, and the rules by which it may change them (Linux's
//! `setresuid` family). Every program starts as root (0); one that drops to another user
//! loses what only root may do, which here is `ioperm`: root stands for the capabilities
//! (`CAP_SETUID`, `CAP_SYS_RAWIO`), as it does on Linux for a process that never asked
//! for capabilities of its own.

use crate::errno::Errno;

/// "Leave this id as it is", in a `setres*id` call (Linux's `-1`).
pub const UNCHANGED: u32 = u32::MAX;

/// Real, effective and saved ids (of users or of groups).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ids {
    pub real: u32,
    pub effective: u32,
    pub saved: u32,
}

impl Ids {
    /// `setres*id(real, effective, saved)`: each one `UNCHANGED` or a new id. Without
    /// `privileged`, each new id must be one of the three it has now (`EPERM` otherwise,
    /// changing nothing).
    pub fn set_res(&mut self, new: [u32; 3], privileged: bool) -> Result<(), Errno> {
        let allowed = |id: u32| {
            id == UNCHANGED || privileged || [self.real, self.effective, self.saved].contains(&id)
        };
        if !new.iter().all(|&id| allowed(id)) {
            return Err(Errno::EPERM);
        }
        for (slot, id) in [&mut self.real, &mut self.effective, &mut self.saved]
            .into_iter()
            .zip(new)
        {
            if id != UNCHANGED {
                *slot = id;
            }
        }
        Ok(())
    }

    /// `set*id(id)`: all three with `privileged`, else the effective one, to the real or
    /// saved id only.
    pub fn set(&mut self, id: u32, privileged: bool) -> Result<(), Errno> {
        if privileged {
            *self = Ids {
                real: id,
                effective: id,
                saved: id,
            };
            Ok(())
        } else if id == self.real || id == self.saved {
            self.effective = id;
            Ok(())
        } else {
            Err(Errno::EPERM)
        }
    }
}

/// A process's credentials.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    pub uid: Ids,
    pub gid: Ids,
}

impl Credentials {
    /// Whether the process may do what needs root: its effective user id is 0.
    pub fn privileged(&self) -> bool {
        self.uid.effective == 0
    }
}

/// A 16-bit id of the old calls (`setresuid`, 164...) as a 32-bit one: 0xffff is "leave it".
pub fn widen(id: u32) -> u32 {
    match id as u16 {
        0xffff => UNCHANGED,
        id => u32::from(id),
    }
}

/// A 32-bit id as the old 16-bit calls report it: ids that do not fit read as 65534
/// (Linux's `overflowuid`).
pub fn narrow(id: u32) -> u32 {
    if id > 0xffff { 65_534 } else { id }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_sets_anything_others_only_what_they_have() {
        let mut ids = Ids::default();
        ids.set_res([1, 1, 1], true).unwrap();
        assert_eq!(
            ids,
            Ids {
                real: 1,
                effective: 1,
                saved: 1
            }
        );
        assert_eq!(
            ids.set_res([0, UNCHANGED, UNCHANGED], false),
            Err(Errno::EPERM)
        );
        assert_eq!(ids.real, 1, "a refused call changes nothing");

        let mut ids = Ids {
            real: 5,
            effective: 0,
            saved: 7,
        };
        ids.set_res([UNCHANGED, 7, UNCHANGED], false).unwrap();
        assert_eq!(
            ids,
            Ids {
                real: 5,
                effective: 7,
                saved: 7
            }
        );
        ids.set_res([UNCHANGED, 5, UNCHANGED], false).unwrap();
        assert_eq!(ids.set(0, false), Err(Errno::EPERM));
        ids.set(7, false).unwrap();
        assert_eq!(
            ids,
            Ids {
                real: 5,
                effective: 7,
                saved: 7
            }
        );
        ids.set(9, true).unwrap();
        assert_eq!(
            ids,
            Ids {
                real: 9,
                effective: 9,
                saved: 9
            }
        );
    }

    #[test]
    fn old_16_bit_ids() {
        assert_eq!(widen(0xffff), UNCHANGED);
        assert_eq!(widen(0xffff_ffff), UNCHANGED);
        assert_eq!(widen(1000), 1000);
        assert_eq!(narrow(70_000), 65_534);
        assert_eq!(narrow(1000), 1000);
    }
}
