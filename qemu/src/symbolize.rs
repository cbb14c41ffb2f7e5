//! Symbolization of kernel backtraces with the kernel ELF's DWARF line tables (addr2line).

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};

use crate::serial::{self, BacktraceFrame, ReportKind};

/// Indentation of a symbolized frame line (under the `!!!   #N` it annotates).
const INDENT: &str = "      ";

/// One source-level frame at an address; an address inside inlined code has several.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceFrame {
    /// Demangled function name (without the hash).
    pub function: Option<String>,
    /// Source file, relative to the workspace root when inside it.
    pub file: Option<String>,
    /// Line number.
    pub line: Option<u32>,
}

/// Resolves kernel addresses to functions and source lines.
pub struct Symbolizer {
    loader: addr2line::Loader,
    root: PathBuf,
}

impl Symbolizer {
    /// Loads the debug info of `elf`; file names under `root` are shown relative to it.
    pub fn new(elf: &Path, root: &Path) -> Result<Self> {
        let loader = addr2line::Loader::new(elf)
            .map_err(|e| anyhow!("cannot load debug info of {}: {e}", elf.display()))?;
        Ok(Symbolizer {
            loader,
            root: root.to_path_buf(),
        })
    }

    /// The frames at `addr`, innermost (inlined) first, outermost (the real function) last;
    /// empty when nothing is known.
    pub fn lookup(&self, addr: u64) -> Vec<SourceFrame> {
        let mut frames = Vec::new();
        if let Ok(mut iter) = self.loader.find_frames(addr) {
            while let Ok(Some(frame)) = iter.next() {
                let function = frame
                    .function
                    .as_ref()
                    .and_then(|f| f.demangle().ok())
                    .map(|name| strip_hash(&name));
                let (file, line) = frame
                    .location
                    .map(|l| (l.file.map(|f| self.relative(f)), l.line))
                    .unwrap_or_default();
                frames.push(SourceFrame {
                    function,
                    file,
                    line,
                });
            }
        }
        // The ELF symbol table names the real (outermost) function with its full path, where
        // DWARF line tables may only have its short name, or none.
        let symbol = self.loader.find_symbol(addr).map(demangle);
        match frames.last_mut() {
            Some(outer)
                if symbol.is_some()
                    && same_function(outer.function.as_deref(), symbol.as_deref()) =>
            {
                outer.function = symbol;
            }
            None if symbol.is_some() => frames.push(SourceFrame {
                function: symbol,
                ..SourceFrame::default()
            }),
            _ => {}
        }
        frames
    }

    fn relative(&self, file: &str) -> String {
        match Path::new(file).strip_prefix(&self.root) {
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => shorten_rustc_path(file),
        }
    }
}

/// Shortens the standard library's `/rustc/<commit hash>/library/...` to `<rust>/library/...`.
fn shorten_rustc_path(file: &str) -> String {
    match file
        .strip_prefix("/rustc/")
        .and_then(|rest| rest.split_once('/'))
    {
        Some((hash, tail)) if hash.len() == 40 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            format!("<rust>/{tail}")
        }
        _ => file.to_owned(),
    }
}

/// Whether the DWARF name `dwarf` (maybe short, maybe absent) names the function `symbol`.
fn same_function(dwarf: Option<&str>, symbol: Option<&str>) -> bool {
    match (dwarf, symbol) {
        (None, _) => true,
        (Some(d), Some(s)) => s == d || s.ends_with(&format!("::{d}")),
        (Some(_), None) => false,
    }
}

/// Demangles a Rust symbol (v0 or legacy), without the hash; other names are kept.
pub fn demangle(name: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(name))
}

/// Removes a trailing legacy-mangling hash (`::h0123456789abcdef`) left in a DWARF name.
fn strip_hash(name: &str) -> String {
    match name.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            head.to_owned()
        }
        _ => name.to_owned(),
    }
}

/// Formats the symbolized lines for `frame`: `      #N 0xADDR function at file:line`, then
/// one `inlined into ...` line per enclosing function.
pub fn format_frame(frame: BacktraceFrame, sources: &[SourceFrame]) -> String {
    let head = format!("{INDENT}#{} {:#010x} ", frame.index, frame.addr);
    let Some((first, outer)) = sources.split_first() else {
        return format!("{head}??");
    };
    let pad = " ".repeat(head.len());
    let mut text = format!("{head}{}", describe(first));
    for src in outer {
        text.push_str(&format!("\n{pad}inlined into {}", describe(src)));
    }
    text
}

fn describe(src: &SourceFrame) -> String {
    let function = src.function.as_deref().unwrap_or("??");
    match (&src.file, src.line) {
        (Some(file), Some(line)) => format!("{function} at {file}:{line}"),
        (Some(file), None) => format!("{function} at {file}"),
        _ => function.to_owned(),
    }
}

/// Follows the serial stream and returns symbolized text for each backtrace line.
pub struct BacktraceAnnotator {
    symbolizer: Option<Symbolizer>,
    kind: Option<ReportKind>,
}

impl BacktraceAnnotator {
    /// An annotator using `symbolizer`; without one every frame shows as `??`.
    pub fn new(symbolizer: Option<Symbolizer>) -> Self {
        BacktraceAnnotator {
            symbolizer,
            kind: None,
        }
    }

    /// The symbolized form of `line` if it is a backtrace frame.
    pub fn annotate(&mut self, line: &str) -> Option<String> {
        if let Some((kind, _, _)) = serial::parse_report_header(line) {
            self.kind = Some(kind);
            return None;
        }
        let frame = serial::parse_frame_line(line)?;
        let sources = self
            .symbolizer
            .as_ref()
            .map(|s| s.lookup(frame.lookup_addr(self.kind)))
            .unwrap_or_default();
        Some(format_frame(frame, &sources))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(function: &str, file: &str, line: u32) -> SourceFrame {
        SourceFrame {
            function: Some(function.to_owned()),
            file: Some(file.to_owned()),
            line: Some(line),
        }
    }

    #[test]
    fn formatting() {
        let f = BacktraceFrame {
            index: 1,
            addr: 0xc010_5678,
        };
        assert_eq!(format_frame(f, &[]), "      #1 0xc0105678 ??");
        assert_eq!(
            format_frame(f, &[src("kernel::mm::alloc", "kernel/src/mm.rs", 40)]),
            "      #1 0xc0105678 kernel::mm::alloc at kernel/src/mm.rs:40"
        );
        let inlined = format_frame(
            f,
            &[src("inner", "a.rs", 1), src("kernel::outer", "b.rs", 2)],
        );
        assert_eq!(
            inlined,
            "      #1 0xc0105678 inner at a.rs:1\n                    inlined into kernel::outer at b.rs:2"
        );
    }

    #[test]
    fn names() {
        assert_eq!(
            demangle("_ZN6kernel2mm5alloc17h0123456789abcdefE"),
            "kernel::mm::alloc"
        );
        assert_eq!(demangle("memcpy"), "memcpy");
        assert_eq!(strip_hash("a::b::h0123456789abcdef"), "a::b");
        assert_eq!(strip_hash("a::hello"), "a::hello");
        assert_eq!(
            shorten_rustc_path(
                "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/core/src/ptr/mod.rs"
            ),
            "<rust>/library/core/src/ptr/mod.rs"
        );
        assert_eq!(shorten_rustc_path("/rustc/x/y.rs"), "/rustc/x/y.rs");
        assert!(same_function(Some("alloc"), Some("kernel::mm::alloc")));
        assert!(same_function(None, Some("kernel::mm::alloc")));
        assert!(!same_function(Some("realloc"), Some("kernel::mm::alloc")));
    }

    #[test]
    fn annotator_without_symbols() {
        let mut a = BacktraceAnnotator::new(None);
        assert_eq!(a.annotate("!!! KERNEL PANIC on cpu 0: x"), None);
        assert_eq!(a.annotate("plain"), None);
        assert_eq!(
            a.annotate("!!!   #0 0xc0101234").as_deref(),
            Some("      #0 0xc0101234 ??")
        );
    }

    #[test]
    fn missing_elf_is_an_error() {
        assert!(Symbolizer::new(Path::new("/nonexistent/kernel"), Path::new("/")).is_err());
    }
}
