//! The two process-wide settings the scorer depends on, installed once before tract is
//! first used: the CPU-ISA knob that makes host kernels bit-identical to the RISC-V generic
//! kernels, and a panic hook that turns a panic inside tract into a rejection reason
//! instead of text on stderr.

use std::{
    cell::{Cell, RefCell},
    panic::{self, AssertUnwindSafe},
    sync::Once,
};

/// The `TRACT_CPU_ISA` edit for this architecture: drop every kernel family whose rounding
/// differs from the generic kernels the RISC-V machine runs (FMA contracts `a*b+c` into one
/// rounding). The token list is per architecture: tract refuses another architecture's names.
pub const CPU_ISA: Option<&str> = if cfg!(target_arch = "x86_64") {
    Some("-avx512f,-fma")
} else if cfg!(target_arch = "riscv64") {
    Some("-rvv,-zvfh")
} else {
    None
};

static INIT: Once = Once::new();

thread_local! {
    static GUARDED: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Sets the CPU-ISA knob and the panic hook. Idempotent; called by every entry point that
/// can reach tract, so a caller never has to remember it.
pub fn init() {
    INIT.call_once(|| {
        if let Some(isa) = CPU_ISA {
            let known = tract_onnx::tract_core::knobs::set_str("TRACT_CPU_ISA", isa);
            debug_assert!(known, "tract no longer declares TRACT_CPU_ISA");
        }
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) {
                let message = match info.payload().downcast_ref::<&str>() {
                    Some(s) => (*s).to_string(),
                    None => info
                        .payload()
                        .downcast_ref::<String>()
                        .cloned()
                        .unwrap_or_default(),
                };
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(message));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f`, turning a panic into `Err(message)` without printing anything.
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    init();
    let was = GUARDED.with(|g| g.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    result.map_err(|_| {
        LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "unknown panic".to_string())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_becomes_its_message() {
        let err = super::guarded(|| -> u8 { panic!("boom {}", 7) }).unwrap_err();
        assert_eq!(err, "boom 7");
        assert_eq!(super::guarded(|| 5).unwrap(), 5);
    }
}
