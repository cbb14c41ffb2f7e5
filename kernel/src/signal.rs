//! Signals as Linux i386 defines them: numbers, default actions, `struct sigaction`,
//! `siginfo_t`, and the two stack frames a handler is entered with (`sigframe` for a
//! handler without `SA_SIGINFO`, `rt_sigframe` with it), laid out byte for byte as
//! Linux's `arch/x86/kernel/signal_32.c` writes them, and read back by `sigreturn` and
//! `rt_sigreturn`. Portable and host-tested; the kernel's side (pending sets, delivery at
//! the return to user mode, the calls) is in `proc::signal` and `syscall::signal`.
//!
//! Written by hand: the layouts are the ABI itself, and no crate describes i386's frames
//! for a `no_std` kernel.

use alloc::vec::Vec;

/// `_NSIG`: signals 1 to 64.
pub const NSIG: u32 = 64;

pub const SIGHUP: u32 = 1;
pub const SIGINT: u32 = 2;
pub const SIGQUIT: u32 = 3;
pub const SIGILL: u32 = 4;
pub const SIGTRAP: u32 = 5;
pub const SIGABRT: u32 = 6;
pub const SIGBUS: u32 = 7;
pub const SIGFPE: u32 = 8;
pub const SIGKILL: u32 = 9;
pub const SIGUSR1: u32 = 10;
pub const SIGSEGV: u32 = 11;
pub const SIGUSR2: u32 = 12;
pub const SIGPIPE: u32 = 13;
pub const SIGALRM: u32 = 14;
pub const SIGTERM: u32 = 15;
pub const SIGCHLD: u32 = 17;
pub const SIGCONT: u32 = 18;
pub const SIGSTOP: u32 = 19;
pub const SIGTSTP: u32 = 20;
pub const SIGTTIN: u32 = 21;
pub const SIGTTOU: u32 = 22;
pub const SIGURG: u32 = 23;
pub const SIGWINCH: u32 = 28;
pub const SIGSYS: u32 = 31;

/// The bit of `sig` in a signal set.
pub const fn bit(sig: u32) -> u64 {
    1 << (sig - 1)
}

/// What can never be blocked, caught or ignored.
pub const UNBLOCKABLE: u64 = bit(SIGKILL) | bit(SIGSTOP);

/// Signals the CPU raises for the instruction that runs: delivered before any other.
pub const SYNCHRONOUS: u64 =
    bit(SIGSEGV) | bit(SIGBUS) | bit(SIGILL) | bit(SIGTRAP) | bit(SIGFPE) | bit(SIGSYS);

/// Whether `sig` is a signal number (1 to 64).
pub fn valid(sig: u32) -> bool {
    (1..=NSIG).contains(&sig)
}

/// The lowest signal of `set`, synchronous ones first (as Linux's `next_signal`).
pub fn first(set: u64) -> Option<u32> {
    let pick = if set & SYNCHRONOUS != 0 {
        set & SYNCHRONOUS
    } else {
        set
    };
    (pick != 0).then(|| pick.trailing_zeros() + 1)
}

/// The name of a signal, for the kernel's reports ("SIG34" style for real-time ones).
pub fn name(sig: u32) -> &'static str {
    const NAMES: [&str; 32] = [
        "SIG0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    NAMES.get(sig as usize).copied().unwrap_or("SIGRT")
}

/// What `SIG_DFL` does with a signal (signal(7)). Core-dumping signals terminate: Tempest
/// writes no core file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Default {
    Terminate,
    Ignore,
    Stop,
    Continue,
}

pub fn default_action(sig: u32) -> Default {
    match sig {
        SIGCHLD | SIGURG | SIGWINCH => Default::Ignore,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => Default::Stop,
        SIGCONT => Default::Continue,
        _ => Default::Terminate,
    }
}

pub const SIG_DFL: u32 = 0;
pub const SIG_IGN: u32 = 1;

pub const SA_SIGINFO: u32 = 0x0000_0004;
pub const SA_RESTORER: u32 = 0x0400_0000;
pub const SA_ONSTACK: u32 = 0x0800_0000;
pub const SA_RESTART: u32 = 0x1000_0000;
pub const SA_NODEFER: u32 = 0x4000_0000;
pub const SA_RESETHAND: u32 = 0x8000_0000;

/// i386's `struct sigaction` as `rt_sigaction` takes it: handler, flags, restorer, mask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Action {
    pub handler: u32,
    pub flags: u32,
    pub restorer: u32,
    pub mask: u64,
}

/// The size of `struct sigaction` for `rt_sigaction`.
pub const ACTION_SIZE: usize = 20;
/// The size of `struct old_sigaction` for the old `sigaction` (67): handler, a 32-bit
/// mask, flags, restorer.
pub const OLD_ACTION_SIZE: usize = 16;

impl Action {
    pub fn parse(raw: &[u8; ACTION_SIZE]) -> Self {
        let word = |i: usize| u32::from_le_bytes(raw[i..i + 4].try_into().expect("4"));
        Action {
            handler: word(0),
            flags: word(4),
            restorer: word(8),
            mask: u64::from_le_bytes(raw[12..20].try_into().expect("8")),
        }
    }

    pub fn to_bytes(self) -> [u8; ACTION_SIZE] {
        let mut raw = [0u8; ACTION_SIZE];
        raw[0..4].copy_from_slice(&self.handler.to_le_bytes());
        raw[4..8].copy_from_slice(&self.flags.to_le_bytes());
        raw[8..12].copy_from_slice(&self.restorer.to_le_bytes());
        raw[12..20].copy_from_slice(&self.mask.to_le_bytes());
        raw
    }

    /// An `old_sigaction`: its mask is the low 32 signals (the others cleared, as Linux's
    /// `siginitset`).
    pub fn parse_old(raw: &[u8; OLD_ACTION_SIZE]) -> Self {
        let word = |i: usize| u32::from_le_bytes(raw[i..i + 4].try_into().expect("4"));
        Action {
            handler: word(0),
            mask: u64::from(word(4)),
            flags: word(8),
            restorer: word(12),
        }
    }

    /// As an `old_sigaction` (the mask's low 32 signals).
    pub fn to_old_bytes(self) -> [u8; OLD_ACTION_SIZE] {
        let mut raw = [0u8; OLD_ACTION_SIZE];
        raw[0..4].copy_from_slice(&self.handler.to_le_bytes());
        raw[4..8].copy_from_slice(&(self.mask as u32).to_le_bytes());
        raw[8..12].copy_from_slice(&self.flags.to_le_bytes());
        raw[12..16].copy_from_slice(&self.restorer.to_le_bytes());
        raw
    }

    /// Whether the action runs a handler (neither default nor ignore).
    pub fn is_handler(&self) -> bool {
        self.handler != SIG_DFL && self.handler != SIG_IGN
    }

    /// Whether a signal with this action is thrown away when it arrives.
    pub fn ignores(&self, sig: u32) -> bool {
        self.handler == SIG_IGN
            || (self.handler == SIG_DFL
                && matches!(default_action(sig), Default::Ignore | Default::Continue))
    }
}

/// `si_code` values (asm-generic/siginfo.h).
pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_TKILL: i32 = -6;
pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
pub const ILL_ILLOPN: i32 = 2;
/// `si_code` of SIGILL: internal stack error (Linux i386 gives it when `iret` to user mode
/// faults).
pub const ILL_BADSTK: i32 = 8;
/// The trap number Linux i386 reports for a faulting `iret` to user mode (`X86_TRAP_IRET`).
pub const TRAP_IRET: u32 = 32;
pub const FPE_INTDIV: i32 = 1;
pub const BUS_ADRALN: i32 = 1;

/// One raised signal: the `siginfo_t` its handler sees, plus the machine state of a fault
/// (its `sigcontext` and the kernel's report).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Info {
    pub signo: u32,
    pub code: i32,
    /// Sender (`kill`, `tgkill`): `si_pid` and `si_uid`.
    pub pid: u32,
    pub uid: u32,
    /// Fault: `si_addr`, the exception vector and its error code.
    pub addr: u32,
    pub trapno: u32,
    pub error: u32,
    pub fault: bool,
}

/// `sizeof(siginfo_t)`.
pub const INFO_SIZE: usize = 128;

impl Info {
    /// Sent by a process (`kill`: `SI_USER`, `tgkill`: `SI_TKILL`).
    pub fn sent(signo: u32, code: i32, pid: u32) -> Self {
        Info {
            signo,
            code,
            pid,
            ..Info::default()
        }
    }

    /// Raised by a fault at `addr` (exception `trapno`, `error` its error code).
    pub fn fault(signo: u32, code: i32, addr: u32, trapno: u32, error: u32) -> Self {
        Info {
            signo,
            code,
            addr,
            trapno,
            error,
            fault: true,
            ..Info::default()
        }
    }

    /// The `siginfo_t` bytes: `si_signo`, `si_errno`, `si_code`, then the union (the
    /// sender's pid and uid, or a fault's address).
    pub fn to_bytes(&self) -> [u8; INFO_SIZE] {
        let mut raw = [0u8; INFO_SIZE];
        raw[0..4].copy_from_slice(&self.signo.to_le_bytes());
        raw[8..12].copy_from_slice(&self.code.to_le_bytes());
        if self.fault {
            raw[12..16].copy_from_slice(&self.addr.to_le_bytes());
        } else {
            raw[12..16].copy_from_slice(&self.pid.to_le_bytes());
            raw[16..20].copy_from_slice(&self.uid.to_le_bytes());
        }
        raw
    }
}

/// The user registers a frame saves and `sigreturn` restores (`struct sigcontext`), plus
/// the fault's `cr2`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Registers {
    pub gs: u32,
    pub fs: u32,
    pub es: u32,
    pub ds: u32,
    pub edi: u32,
    pub esi: u32,
    pub ebp: u32,
    pub esp: u32,
    pub ebx: u32,
    pub edx: u32,
    pub ecx: u32,
    pub eax: u32,
    pub trapno: u32,
    pub err: u32,
    pub eip: u32,
    pub cs: u32,
    pub eflags: u32,
    pub ss: u32,
    pub cr2: u32,
}

/// `sizeof(struct sigcontext)` on i386.
pub const SIGCONTEXT_SIZE: usize = 88;

/// EFLAGS bits `sigreturn` takes from the frame (Linux's `FIX_EFLAGS`); the rest (IF,
/// IOPL, VM, NT...) stay the kernel's.
pub const FIX_EFLAGS: u32 = (1 << 18) // AC
    | (1 << 11) // OF
    | (1 << 10) // DF
    | (1 << 8) // TF
    | (1 << 7) // SF
    | (1 << 6) // ZF
    | (1 << 4) // AF
    | (1 << 2) // PF
    | 1 // CF
    | (1 << 16); // RF

/// EFLAGS bits a handler starts with cleared: DF, RF, TF.
pub const HANDLER_CLEARS: u32 = (1 << 10) | (1 << 16) | (1 << 8);

fn put(raw: &mut [u8], at: usize, value: u32) {
    raw[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn get(raw: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(raw[at..at + 4].try_into().expect("4"))
}

impl Registers {
    /// `struct sigcontext`: the registers, the FPU frame's address and the low word of
    /// the blocked set.
    fn sigcontext(&self, fpstate: u32, oldmask: u32) -> [u8; SIGCONTEXT_SIZE] {
        let mut raw = [0u8; SIGCONTEXT_SIZE];
        let words = [
            self.gs & 0xffff,
            self.fs & 0xffff,
            self.es & 0xffff,
            self.ds & 0xffff,
            self.edi,
            self.esi,
            self.ebp,
            self.esp,
            self.ebx,
            self.edx,
            self.ecx,
            self.eax,
            self.trapno,
            self.err,
            self.eip,
            self.cs & 0xffff,
            self.eflags,
            self.esp, // sp_at_signal
            self.ss & 0xffff,
            fpstate,
            oldmask,
            self.cr2,
        ];
        for (i, w) in words.iter().enumerate() {
            put(&mut raw, i * 4, *w);
        }
        raw
    }

    /// The registers of a `struct sigcontext` (segment selectors as 16-bit values), and
    /// its FPU frame's address.
    fn from_sigcontext(raw: &[u8]) -> (Registers, u32) {
        let w = |i: usize| get(raw, i * 4);
        let regs = Registers {
            gs: w(0) & 0xffff,
            fs: w(1) & 0xffff,
            es: w(2) & 0xffff,
            ds: w(3) & 0xffff,
            edi: w(4),
            esi: w(5),
            ebp: w(6),
            esp: w(7),
            ebx: w(8),
            edx: w(9),
            ecx: w(10),
            eax: w(11),
            trapno: w(12),
            err: w(13),
            eip: w(14),
            cs: w(15) & 0xffff,
            eflags: w(16),
            ss: w(18) & 0xffff,
            cr2: w(21),
        };
        (regs, w(19))
    }
}

/// The FPU state a frame holds, as the task's save area keeps it.
#[derive(Clone, Copy, Debug)]
pub enum Fpu<'a> {
    /// An FXSAVE image (CPUs with FXSR).
    Fxsave(&'a [u8; 512]),
    /// An FNSAVE image (the first 108 bytes).
    Fnsave(&'a [u8; 512]),
}

/// `sizeof(struct _fpstate_32)`'s legacy part (`struct fregs_state` + status + magic).
pub const FREGS_SIZE: usize = 112;
/// `_fpstate_32.magic` when no FXSAVE image follows.
const MAGIC_FNSAVE: u16 = 0xffff;
/// `_fpstate_32.magic` when an FXSAVE image follows (`X86_FXSR_MAGIC`).
const MAGIC_FXSR: u16 = 0x0000;

/// The i387 tag word's 2-bit tag of an 80-bit register (valid, zero, special), from its
/// bytes.
fn tag_of(reg: &[u8]) -> u32 {
    let mantissa = u64::from_le_bytes(reg[0..8].try_into().expect("8"));
    let exponent = u16::from_le_bytes(reg[8..10].try_into().expect("2")) & 0x7fff;
    match exponent {
        0x7fff => 2,
        0 if mantissa == 0 => 1,
        0 => 2,
        _ if mantissa >> 63 == 0 => 2,
        _ => 0,
    }
}

/// The legacy (`fnsave`-format) header of an FXSAVE image, as Linux's `convert_from_fxsr`
/// writes it: environment with the full tag word, then the eight registers in stack
/// order.
fn legacy_header(fx: &[u8; 512]) -> [u8; FREGS_SIZE] {
    let mut h = [0u8; FREGS_SIZE];
    let fcw = u32::from(u16::from_le_bytes([fx[0], fx[1]]));
    let fsw = u16::from_le_bytes([fx[2], fx[3]]);
    let ftw = fx[4];
    let fop = u32::from(u16::from_le_bytes([fx[6], fx[7]]));
    let top = u32::from(fsw >> 11) & 7;
    let mut twd = 0u32;
    for physical in 0..8u32 {
        let tag = if ftw & (1 << physical) == 0 {
            3
        } else {
            let st = ((physical + 8 - top) & 7) as usize;
            tag_of(&fx[32 + st * 16..32 + st * 16 + 10])
        };
        twd |= tag << (physical * 2);
    }
    put(&mut h, 0, fcw | 0xffff_0000);
    put(&mut h, 4, u32::from(fsw) | 0xffff_0000);
    put(&mut h, 8, twd | 0xffff_0000);
    put(&mut h, 12, get(fx, 8)); // fip
    put(&mut h, 16, (get(fx, 12) & 0xffff) | (fop << 16)); // fcs, fop
    put(&mut h, 20, get(fx, 16)); // foo
    put(&mut h, 24, get(fx, 20) | 0xffff_0000); // fos
    for st in 0..8 {
        h[28 + st * 10..38 + st * 10].copy_from_slice(&fx[32 + st * 16..42 + st * 16]);
    }
    h[108..110].copy_from_slice(&fsw.to_le_bytes());
    h[110..112].copy_from_slice(&MAGIC_FXSR.to_le_bytes());
    h
}

/// Linux's `convert_to_fxsr`: the environment and registers of a legacy header written
/// into an FXSAVE image (what `sigreturn` takes from the header, not the image).
fn apply_legacy_header(fx: &mut [u8; 512], h: &[u8]) {
    let twd = get(h, 8);
    let mut ftw = 0u8;
    for physical in 0..8 {
        if (twd >> (physical * 2)) & 3 != 3 {
            ftw |= 1 << physical;
        }
    }
    let fcs = get(h, 16);
    fx[0..2].copy_from_slice(&h[0..2]);
    fx[2..4].copy_from_slice(&h[4..6]);
    fx[4] = ftw;
    fx[6..8].copy_from_slice(&((fcs >> 16) as u16 & 0x7ff).to_le_bytes());
    put(fx, 8, get(h, 12));
    put(fx, 12, fcs & 0xffff);
    put(fx, 16, get(h, 20));
    put(fx, 20, get(h, 24) & 0xffff);
    for st in 0..8 {
        fx[32 + st * 16..42 + st * 16].copy_from_slice(&h[28 + st * 10..38 + st * 10]);
    }
}

impl Fpu<'_> {
    /// Bytes of the FPU frame: the legacy header, then (FXSR) the 512-byte image.
    fn len(&self) -> usize {
        match self {
            Fpu::Fxsave(_) => FREGS_SIZE + 512,
            Fpu::Fnsave(_) => FREGS_SIZE,
        }
    }

    fn write(&self, out: &mut [u8]) {
        match self {
            Fpu::Fxsave(fx) => {
                out[..FREGS_SIZE].copy_from_slice(&legacy_header(fx));
                out[FREGS_SIZE..FREGS_SIZE + 512].copy_from_slice(&fx[..]);
            }
            Fpu::Fnsave(image) => {
                out[..108].copy_from_slice(&image[..108]);
                out[108..110].copy_from_slice(&image[4..6]); // status: the status word
                out[110..112].copy_from_slice(&MAGIC_FNSAVE.to_le_bytes());
            }
        }
    }
}

/// The FPU state a `sigreturn` restores from an FPU frame (`raw`: `FREGS_SIZE` bytes, or
/// `FREGS_SIZE + 512` on FXSR CPUs), into `image` (the save area's layout). The caller
/// still has to make MXCSR valid.
pub fn restore_fpu(raw: &[u8], fxsr: bool, image: &mut [u8; 512]) {
    if fxsr {
        image.copy_from_slice(&raw[FREGS_SIZE..FREGS_SIZE + 512]);
        apply_legacy_header(image, &raw[..FREGS_SIZE]);
    } else {
        image[..108].copy_from_slice(&raw[..108]);
    }
}

/// What a handler is entered with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Where the bytes go (the handler's `esp` is `at`).
    pub at: u32,
    pub bytes: Vec<u8>,
    /// The handler's `eax`, `edx`, `ecx` (signal, `&info`, `&uc` for an rt frame).
    pub args: [u32; 3],
}

/// The alternate stack as `stack_t` (`ss_sp`, `ss_flags`, `ss_size`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stack {
    pub sp: u32,
    pub flags: u32,
    pub size: u32,
}

pub const SS_ONSTACK: u32 = 1;
pub const SS_DISABLE: u32 = 2;
pub const SS_AUTODISARM: u32 = 1 << 31;

impl Stack {
    pub const DISABLED: Stack = Stack {
        sp: 0,
        flags: SS_DISABLE,
        size: 0,
    };

    /// Whether `esp` is on this stack (Linux's `on_sig_stack`).
    pub fn contains(&self, esp: u32) -> bool {
        self.size != 0 && esp.wrapping_sub(self.sp) <= self.size && esp != self.sp
    }

    /// `ss_flags` as `sigaltstack` reports it for a thread whose stack pointer is `esp`.
    pub fn reported_flags(&self, esp: u32) -> u32 {
        let state = if self.size == 0 {
            SS_DISABLE
        } else if self.contains(esp) {
            SS_ONSTACK
        } else {
            0
        };
        state | (self.flags & SS_AUTODISARM)
    }

    pub fn to_bytes(self) -> [u8; 12] {
        let mut raw = [0u8; 12];
        put(&mut raw, 0, self.sp);
        put(&mut raw, 4, self.flags);
        put(&mut raw, 8, self.size);
        raw
    }

    pub fn parse(raw: &[u8]) -> Self {
        Stack {
            sp: get(raw, 0),
            flags: get(raw, 4),
            size: get(raw, 8),
        }
    }
}

/// `sizeof(struct rt_sigframe)` on i386: pretcode, sig, pinfo, puc, info, uc, retcode.
pub const RT_FRAME_SIZE: usize = 268;
/// `sizeof(struct sigframe)`: pretcode, sig, sigcontext, an unused `_fpstate_32`,
/// extramask, retcode.
pub const FRAME_SIZE: usize = 732;
/// The most stack any frame `Delivery::build` lays out takes below its top: the larger
/// frame, the FPU frame with its FXSAVE image, and both alignments. What the auxiliary
/// vector says as `AT_MINSIGSTKSZ` (a smaller alternate stack cannot take every signal).
pub const MAX_FRAME_STACK: usize = FRAME_SIZE + FREGS_SIZE + 512 + 63 + 15 + 4;
/// Offsets in the rt frame.
const RT_INFO: usize = 16;
const RT_UC: usize = 144;
/// In the ucontext: flags, link, stack, mcontext, sigmask.
const UC_STACK: usize = 8;
const UC_MCONTEXT: usize = 20;
const UC_SIGMASK: usize = 108;
/// Offsets in the non-rt frame.
const SF_SIGCONTEXT: usize = 8;
const SF_EXTRAMASK: usize = 720;
/// Bytes of the ucontext `rt_sigreturn` reads.
pub const UCONTEXT_SIZE: usize = 116;

/// `__NR_sigreturn` and `__NR_rt_sigreturn`, which the frames' return code calls.
pub const NR_SIGRETURN: u32 = 119;
pub const NR_RT_SIGRETURN: u32 = 173;

/// Everything a frame holds.
pub struct Delivery<'a> {
    pub sig: u32,
    pub info: Info,
    pub action: Action,
    pub regs: Registers,
    /// The blocked set to restore at `sigreturn` (the one before the handler's mask).
    pub blocked: u64,
    /// The alternate stack as the thread had it, and its report (`uc_stack`).
    pub stack: Stack,
    pub fpu: Fpu<'a>,
    /// The vDSO's `__kernel_sigreturn` and `__kernel_rt_sigreturn`, where a handler
    /// without `SA_RESTORER` returns (as on Linux); `None` (no vDSO): the frame's own
    /// return code.
    pub trampolines: Option<(u32, u32)>,
}

impl Delivery<'_> {
    /// Lays out the frame below `top` (the user stack pointer, or the top of the
    /// alternate stack) as Linux does: the FPU frame first, its image 64-byte aligned,
    /// then the signal frame, aligned so that `esp + 4` is a multiple of 16 (as right
    /// after a call). `None` if it would wrap below address 0.
    pub fn build(&self, top: u32) -> Option<Frame> {
        let rt = self.action.flags & SA_SIGINFO != 0;
        let fpu_len = self.fpu.len();
        let image = top.checked_sub(512)? & !63;
        let fpstate = match self.fpu {
            Fpu::Fxsave(_) => image.checked_sub(FREGS_SIZE as u32)?,
            Fpu::Fnsave(_) => (top.checked_sub(FREGS_SIZE as u32)?) & !63,
        };
        let size = if rt { RT_FRAME_SIZE } else { FRAME_SIZE };
        let at = ((fpstate.checked_sub(size as u32)?.wrapping_add(4)) & !15).checked_sub(4)?;
        let end = fpstate as usize + fpu_len;
        let mut bytes = alloc::vec![0u8; end - at as usize];
        self.fpu.write(&mut bytes[(fpstate - at) as usize..]);

        let retcode_at = size - 8;
        let restorer = match self.trampolines {
            _ if self.action.flags & SA_RESTORER != 0 => self.action.restorer,
            Some((sigreturn, rt_sigreturn)) => {
                if rt {
                    rt_sigreturn
                } else {
                    sigreturn
                }
            }
            None => at + retcode_at as u32,
        };
        put(&mut bytes, 0, restorer);
        put(&mut bytes, 4, self.sig);
        let sc = |mask: u64| self.regs.sigcontext(fpstate, mask as u32);
        let args = if rt {
            let info = at + RT_INFO as u32;
            let uc = at + RT_UC as u32;
            put(&mut bytes, 8, info);
            put(&mut bytes, 12, uc);
            bytes[RT_INFO..RT_INFO + INFO_SIZE].copy_from_slice(&self.info.to_bytes());
            // uc_flags 0 (no XSAVE state), uc_link 0.
            let stack = self.stack.to_bytes();
            bytes[RT_UC + UC_STACK..RT_UC + UC_STACK + 12].copy_from_slice(&stack);
            let mc = RT_UC + UC_MCONTEXT;
            bytes[mc..mc + SIGCONTEXT_SIZE].copy_from_slice(&sc(self.blocked));
            let sm = RT_UC + UC_SIGMASK;
            bytes[sm..sm + 8].copy_from_slice(&self.blocked.to_le_bytes());
            // movl $__NR_rt_sigreturn, %eax; int $0x80
            bytes[retcode_at] = 0xb8;
            put(&mut bytes, retcode_at + 1, NR_RT_SIGRETURN);
            bytes[retcode_at + 5..retcode_at + 7].copy_from_slice(&[0xcd, 0x80]);
            [self.sig, info, uc]
        } else {
            let at_sc = SF_SIGCONTEXT;
            bytes[at_sc..at_sc + SIGCONTEXT_SIZE].copy_from_slice(&sc(self.blocked));
            put(&mut bytes, SF_EXTRAMASK, (self.blocked >> 32) as u32);
            // popl %eax; movl $__NR_sigreturn, %eax; int $0x80
            bytes[retcode_at..retcode_at + 2].copy_from_slice(&[0x58, 0xb8]);
            put(&mut bytes, retcode_at + 2, NR_SIGRETURN);
            bytes[retcode_at + 6..retcode_at + 8].copy_from_slice(&[0xcd, 0x80]);
            [self.sig, 0, 0]
        };
        Some(Frame { at, bytes, args })
    }
}

/// What `sigreturn`/`rt_sigreturn` read back from a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restored {
    pub regs: Registers,
    /// Address of the FPU frame (0: none, the FPU starts afresh).
    pub fpstate: u32,
    pub blocked: u64,
    /// The alternate stack to set again (`rt_sigreturn` only).
    pub stack: Option<Stack>,
}

/// Where `rt_sigreturn`'s ucontext is, for a call made with stack pointer `esp` (the
/// handler's `ret` popped `pretcode`).
pub fn rt_ucontext_at(esp: u32) -> u32 {
    esp.wrapping_sub(4).wrapping_add(RT_UC as u32)
}

/// Reads an rt frame's ucontext (`UCONTEXT_SIZE` bytes).
pub fn parse_ucontext(uc: &[u8]) -> Restored {
    let (regs, fpstate) = Registers::from_sigcontext(&uc[UC_MCONTEXT..]);
    Restored {
        regs,
        fpstate,
        blocked: u64::from_le_bytes(uc[UC_SIGMASK..UC_SIGMASK + 8].try_into().expect("8")),
        stack: Some(Stack::parse(&uc[UC_STACK..UC_STACK + 12])),
    }
}

/// Where `sigreturn`'s frame is, for a call made with stack pointer `esp` (the handler's
/// `ret` popped `pretcode`, the return code popped `sig`).
pub fn frame_at(esp: u32) -> u32 {
    esp.wrapping_sub(8)
}

/// Reads a non-rt frame (`FRAME_SIZE` bytes): its sigcontext and both mask words.
pub fn parse_frame(frame: &[u8]) -> Restored {
    let (regs, fpstate) = Registers::from_sigcontext(&frame[SF_SIGCONTEXT..]);
    let low = u64::from(get(frame, SF_SIGCONTEXT + 80));
    let high = u64::from(get(frame, SF_EXTRAMASK));
    Restored {
        regs,
        fpstate,
        blocked: low | high << 32,
        stack: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs() -> Registers {
        Registers {
            gs: 0x33,
            fs: 0,
            es: 0x23,
            ds: 0x23,
            edi: 1,
            esi: 2,
            ebp: 3,
            esp: 0xbfff_f000,
            ebx: 5,
            edx: 6,
            ecx: 7,
            eax: 8,
            trapno: 14,
            err: 6,
            eip: 0x0804_8000,
            cs: 0x1b,
            eflags: 0x246,
            ss: 0x23,
            cr2: 0xdead_0000,
        }
    }

    fn fx_image() -> [u8; 512] {
        let mut fx = [0u8; 512];
        fx[0..2].copy_from_slice(&0x037f_u16.to_le_bytes());
        // TOP = 7, one value pushed: physical register 7 holds ST(0) = 1.0.
        fx[2..4].copy_from_slice(&(7u16 << 11).to_le_bytes());
        fx[4] = 0x80;
        fx[24..28].copy_from_slice(&0x1f80_u32.to_le_bytes());
        fx[32..40].copy_from_slice(&(1u64 << 63).to_le_bytes());
        fx[40..42].copy_from_slice(&0x3fff_u16.to_le_bytes());
        for (i, b) in fx[160..288].iter_mut().enumerate() {
            *b = i as u8; // XMM registers
        }
        fx
    }

    fn delivery(fx: &[u8; 512], flags: u32) -> Delivery<'_> {
        Delivery {
            sig: SIGSEGV,
            info: Info::fault(SIGSEGV, SEGV_MAPERR, 0xdead_0000, 14, 6),
            action: Action {
                handler: 0x0804_9000,
                flags,
                restorer: 0x0804_a000,
                mask: 0,
            },
            regs: regs(),
            blocked: 0x8000_0001_0000_0400,
            stack: Stack::DISABLED,
            fpu: Fpu::Fxsave(fx),
            trampolines: None,
        }
    }

    /// The old `struct old_sigaction` (67): the mask's first 32 signals only, both ways.
    #[test]
    fn old_sigaction_layout() {
        let mut raw = [0u8; OLD_ACTION_SIZE];
        for (i, w) in [0x0804_9000u32, 0x8000_0201, SA_RESTORER, 0x0804_a000]
            .iter()
            .enumerate()
        {
            raw[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
        let a = Action::parse_old(&raw);
        assert_eq!(
            (a.handler, a.mask, a.flags, a.restorer),
            (0x0804_9000, 0x8000_0201, SA_RESTORER, 0x0804_a000)
        );
        assert_eq!(a.to_old_bytes(), raw);
        let wide = Action {
            mask: 0xffff_0000_0000_0002,
            ..a
        };
        assert_eq!(
            &wide.to_old_bytes()[4..8],
            &2u32.to_le_bytes(),
            "signals 33-64 are not reported"
        );
    }

    /// `MAX_FRAME_STACK` bounds every frame, whatever the alignment of the top.
    #[test]
    fn no_frame_takes_more_than_the_minimum_stack_size_says() {
        let fx = fx_image();
        let mut most = 0;
        for flags in [0, SA_SIGINFO] {
            for top in (0x1_0000u32..0x1_0000 + 256).chain([0x2_0000, 0x2_0001, 0x2_003f]) {
                let f = delivery(&fx, flags).build(top).expect("fits");
                assert!(f.at + f.bytes.len() as u32 <= top);
                most = most.max((top - f.at) as usize);
            }
        }
        assert!(most <= MAX_FRAME_STACK, "{most} > {MAX_FRAME_STACK}");
        assert!(most + 32 > MAX_FRAME_STACK, "the bound is tight: {most}");
    }

    #[test]
    fn rt_frame_is_laid_out_as_linux_does() {
        let fx = fx_image();
        let d = delivery(&fx, SA_SIGINFO | SA_RESTORER);
        let f = d.build(0xbfff_f000).expect("fits");
        // esp + 4 is 16-byte aligned, as after a call.
        assert_eq!((f.at + 4) % 16, 0);
        let b = &f.bytes;
        assert_eq!(get(b, 0), 0x0804_a000, "pretcode is the restorer");
        assert_eq!(get(b, 4), SIGSEGV);
        assert_eq!(get(b, 8), f.at + 16);
        assert_eq!(get(b, 12), f.at + 144);
        assert_eq!(f.args, [SIGSEGV, f.at + 16, f.at + 144]);
        // siginfo: signo, code, si_addr.
        assert_eq!(get(b, 16), SIGSEGV);
        assert_eq!(get(b, 24), SEGV_MAPERR as u32);
        assert_eq!(get(b, 28), 0xdead_0000);
        // uc_stack reports the disabled alternate stack.
        assert_eq!(get(b, 144 + 12), SS_DISABLE);
        // sigcontext: eip at word 14, trapno 12, err 13, cr2 21, oldmask 20.
        let sc = 164;
        assert_eq!(get(b, sc + 14 * 4), 0x0804_8000);
        assert_eq!(get(b, sc + 12 * 4), 14);
        assert_eq!(get(b, sc + 13 * 4), 6);
        assert_eq!(get(b, sc + 21 * 4), 0xdead_0000);
        assert_eq!(get(b, sc + 20 * 4), 0x0000_0400);
        // The FPU frame: legacy header, then the image, 64-byte aligned.
        let fpstate = get(b, sc + 19 * 4);
        assert_eq!((fpstate + FREGS_SIZE as u32) % 64, 0);
        assert!(fpstate >= f.at + RT_FRAME_SIZE as u32);
        let fp = (fpstate - f.at) as usize;
        assert_eq!(&b[fp + FREGS_SIZE..fp + FREGS_SIZE + 512], &fx[..]);
        // The legacy tag word: physical 7 valid (00), the rest empty (11).
        assert_eq!(get(b, fp + 8) & 0xffff, 0x3fff);
        assert_eq!(u16::from_le_bytes([b[fp + 110], b[fp + 111]]), MAGIC_FXSR);
        // Everything ends at or below the old stack pointer.
        assert!(f.at as usize + b.len() <= 0xbfff_f000);
    }

    #[test]
    fn rt_frame_reads_back_into_the_same_state() {
        let fx = fx_image();
        let d = delivery(&fx, SA_SIGINFO | SA_RESTORER);
        let f = d.build(0xbfff_f000).expect("fits");
        // The handler's `ret` pops pretcode: rt_sigreturn sees esp = frame + 4.
        let uc_at = rt_ucontext_at(f.at + 4);
        let uc = &f.bytes[(uc_at - f.at) as usize..][..UCONTEXT_SIZE];
        let r = parse_ucontext(uc);
        assert_eq!(r.regs, regs());
        assert_eq!(r.blocked, d.blocked);
        assert_eq!(r.stack, Some(Stack::DISABLED));
        let fp = (r.fpstate - f.at) as usize;
        let mut image = [0u8; 512];
        restore_fpu(&f.bytes[fp..fp + FREGS_SIZE + 512], true, &mut image);
        assert_eq!(image, fx);
    }

    #[test]
    fn legacy_header_changes_win_over_the_image() {
        let fx = fx_image();
        let mut raw = [0u8; FREGS_SIZE + 512];
        Fpu::Fxsave(&fx).write(&mut raw);
        // A handler sets the control word in the legacy header (as old programs do).
        raw[0..2].copy_from_slice(&0x027f_u16.to_le_bytes());
        let mut image = [0u8; 512];
        restore_fpu(&raw, true, &mut image);
        assert_eq!(u16::from_le_bytes([image[0], image[1]]), 0x027f);
        assert_eq!(&image[160..288], &fx[160..288]);
    }

    #[test]
    fn plain_frame_without_restorer_returns_through_its_own_code() {
        let fx = fx_image();
        let d = delivery(&fx, 0);
        let f = d.build(0xbfff_f000).expect("fits");
        assert_eq!((f.at + 4) % 16, 0);
        let retcode = f.at + FRAME_SIZE as u32 - 8;
        assert_eq!(get(&f.bytes, 0), retcode);
        assert_eq!(f.args, [SIGSEGV, 0, 0]);
        let rc = &f.bytes[FRAME_SIZE - 8..FRAME_SIZE];
        assert_eq!(rc, &[0x58, 0xb8, 119, 0, 0, 0, 0xcd, 0x80]);
        // The return code pops sig and calls sigreturn with esp = frame + 8.
        let frame = frame_at(f.at + 8);
        let r = parse_frame(&f.bytes[(frame - f.at) as usize..][..FRAME_SIZE]);
        assert_eq!(r.regs, regs());
        assert_eq!(r.blocked, d.blocked);
    }

    #[test]
    fn rt_return_code_calls_rt_sigreturn() {
        let fx = fx_image();
        let f = delivery(&fx, SA_SIGINFO).build(0x1000_0000).expect("fits");
        let rc = &f.bytes[RT_FRAME_SIZE - 8..RT_FRAME_SIZE];
        assert_eq!(rc, &[0xb8, 173, 0, 0, 0, 0xcd, 0x80, 0]);
        assert_eq!(get(&f.bytes, 0), f.at + RT_FRAME_SIZE as u32 - 8);
    }

    #[test]
    fn a_frame_that_would_wrap_is_refused() {
        let fx = fx_image();
        assert!(delivery(&fx, SA_SIGINFO).build(0x200).is_none());
    }

    #[test]
    fn synchronous_signals_come_first() {
        assert_eq!(first(0), None);
        assert_eq!(first(bit(SIGUSR1) | bit(SIGINT)), Some(SIGINT));
        assert_eq!(
            first(bit(SIGUSR1) | bit(SIGSEGV) | bit(SIGHUP)),
            Some(SIGSEGV)
        );
        assert_eq!(first(bit(64)), Some(64));
    }

    #[test]
    fn defaults_follow_signal_7() {
        assert_eq!(default_action(SIGSEGV), Default::Terminate);
        assert_eq!(default_action(SIGCHLD), Default::Ignore);
        assert_eq!(default_action(SIGTSTP), Default::Stop);
        assert_eq!(default_action(40), Default::Terminate);
        assert!(Action::default().ignores(SIGWINCH));
        assert!(!Action::default().ignores(SIGTERM));
    }

    #[test]
    fn action_round_trips() {
        let a = Action {
            handler: 0x1234,
            flags: SA_SIGINFO | SA_RESTORER,
            restorer: 0x5678,
            mask: 0x1_0000_0002,
        };
        assert_eq!(Action::parse(&a.to_bytes()), a);
    }

    #[test]
    fn alternate_stack_reports_where_the_thread_is() {
        let s = Stack {
            sp: 0x1000,
            flags: SS_AUTODISARM,
            size: 0x2000,
        };
        assert_eq!(s.reported_flags(0x2000), SS_ONSTACK | SS_AUTODISARM);
        assert_eq!(s.reported_flags(0x3000), SS_ONSTACK | SS_AUTODISARM);
        assert_eq!(s.reported_flags(0x1000), SS_AUTODISARM);
        assert_eq!(Stack::DISABLED.reported_flags(0x2000), SS_DISABLE);
    }
}
