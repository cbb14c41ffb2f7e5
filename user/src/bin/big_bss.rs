//! `big_bss`: a 1 MiB BSS arrives zeroed and writable; initialised data and read-only
//! tables spanning several pages hold their values.
#![no_std]
#![no_main]

use core::cell::UnsafeCell;
use core::hint::black_box;

use tempest_user::{Args, Checks, println};

tempest_user::entry!(main);

const BSS_SIZE: usize = 1 << 20;
const DATA_WORDS: usize = 3000; // 12000 bytes: spans at least three pages
const RODATA_WORDS: usize = 5000; // 20000 bytes: spans at least five pages

/// A mutable static reached only through raw pointers.
struct Cell<T>(UnsafeCell<T>);
// SAFETY: the program is single-threaded.
unsafe impl<T> Sync for Cell<T> {}

static BSS: Cell<[u8; BSS_SIZE]> = Cell(UnsafeCell::new([0; BSS_SIZE]));
static DATA: Cell<[u32; DATA_WORDS]> = Cell(UnsafeCell::new(table(0xDA7A)));
static RODATA: [u32; RODATA_WORDS] = table(0x0D0D);

/// `f(i) = i * 2654435761 + seed` for each index (a recognizable, non-repeating table).
const fn table<const N: usize>(seed: u32) -> [u32; N] {
    let mut t = [0; N];
    let mut i = 0;
    while i < N {
        t[i] = entry(seed, i);
        i += 1;
    }
    t
}

const fn entry(seed: u32, i: usize) -> u32 {
    (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed)
}

/// BSS byte `i` (volatile: the compiler may not assume the initial zero).
fn bss(i: usize) -> *mut u8 {
    assert!(i < BSS_SIZE);
    // SAFETY: i < BSS_SIZE, inside the array.
    unsafe { BSS.0.get().cast::<u8>().add(i) }
}

/// Data word `i`.
fn data(i: usize) -> *mut u32 {
    assert!(i < DATA_WORDS);
    // SAFETY: i < DATA_WORDS, inside the array.
    unsafe { DATA.0.get().cast::<u32>().add(i) }
}

/// Reads `*p` with a volatile load.
fn load<T: Copy>(p: *const T) -> T {
    // SAFETY: only called with pointers into the statics above, which are always valid.
    unsafe { p.read_volatile() }
}

/// Writes `*p` with a volatile store.
fn store<T: Copy>(p: *mut T, value: T) {
    // SAFETY: only called with pointers into the writable statics above (single thread).
    unsafe { p.write_volatile(value) }
}

fn main(_: &Args) -> i32 {
    let mut c = Checks::new("big_bss");
    let rodata = black_box(RODATA.as_ptr());
    println!("bss    at {:p}, {BSS_SIZE} bytes", bss(0));
    println!("data   at {:p}, {} bytes", data(0), DATA_WORDS * 4);
    println!("rodata at {rodata:p}, {} bytes", RODATA_WORDS * 4);

    let sum: u64 = (0..BSS_SIZE).map(|i| load(bss(i)) as u64).sum();
    c.eq("sum of the 1 MiB BSS", sum, 0);
    let mark = |i: usize| (i >> 12) as u8 | 1;
    for i in (0..BSS_SIZE).step_by(4096) {
        store(bss(i), mark(i));
    }
    let back = (0..BSS_SIZE).step_by(4096).all(|i| load(bss(i)) == mark(i));
    c.check(
        back,
        format_args!("wrote one byte in each of the 256 BSS pages and read it back"),
    );

    let data_ok = (0..DATA_WORDS).all(|i| load(data(i)) == entry(0xDA7A, i));
    c.check(
        data_ok,
        format_args!("the {DATA_WORDS} initialised data words hold their values"),
    );
    store(data(DATA_WORDS - 1), 7);
    c.eq(
        "last data word after a write",
        load(data(DATA_WORDS - 1)),
        7,
    );
    // SAFETY: i < RODATA_WORDS, inside the table.
    let ro_ok = (0..RODATA_WORDS).all(|i| load(unsafe { rodata.add(i) }) == entry(0x0D0D, i));
    c.check(
        ro_ok,
        format_args!("the {RODATA_WORDS} read-only words hold their values"),
    );
    c.finish()
}
