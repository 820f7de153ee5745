//! Where training runs: CPU (burn's `flex` backend, SIMD and one thread per core) or CUDA
//! (burn's `cuda` backend, compiled in with the `cuda` feature; kernels are compiled by NVRTC
//! at run time and the driver is opened only when a CUDA device is used).

use std::{fmt, str::FromStr};

use crate::{Error, Result};

/// The `--device` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// CUDA when a device is usable, else CPU.
    Auto,
    /// CPU.
    Cpu,
    /// CUDA device 0; an error if there is none.
    Cuda,
}

impl FromStr for DeviceChoice {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda),
            other => Err(Error::Config(format!(
                "unknown device {other:?}: use auto, cpu or cuda"
            ))),
        }
    }
}

/// The device a run uses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Device {
    /// The CPU backend with this many threads.
    Cpu {
        /// Worker threads.
        threads: usize,
    },
    /// A CUDA device.
    Cuda {
        /// Ordinal.
        index: usize,
        /// The driver's name for it.
        name: String,
    },
}

impl Device {
    /// Whether the same seed gives the same bytes on this device. CPU: yes (tested). CUDA:
    /// no promise — atomics and autotuned kernels may sum in another order from run to run.
    pub const fn deterministic(&self) -> bool {
        matches!(self, Self::Cpu { .. })
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu { threads } => write!(f, "cpu ({threads} threads)"),
            Self::Cuda { index, name } => write!(f, "cuda:{index} ({name})"),
        }
    }
}

/// The CPU device description.
pub fn cpu() -> Device {
    Device::Cpu {
        threads: std::thread::available_parallelism().map_or(1, usize::from),
    }
}

/// The first CUDA device, or why there is none usable.
pub fn cuda() -> Result<Device, String> {
    cuda_impl::first_device()
}

/// Resolves a choice to a device: `auto` falls back to the CPU, saying why in the second value.
pub fn resolve(choice: DeviceChoice) -> Result<(Device, Option<String>)> {
    match choice {
        DeviceChoice::Cpu => Ok((cpu(), None)),
        DeviceChoice::Cuda => cuda().map(|d| (d, None)).map_err(Error::Device),
        DeviceChoice::Auto => Ok(match cuda() {
            Ok(d) => (d, None),
            Err(why) => (cpu(), Some(why)),
        }),
    }
}

/// Why a build without the `cuda` feature cannot use CUDA.
pub const NO_CUDA_BUILD: &str =
    "this crucible-trainer was built without CUDA: rebuild it with `--features cuda`";

#[cfg(not(feature = "cuda"))]
mod cuda_impl {
    pub(super) fn first_device() -> Result<super::Device, String> {
        Err(super::NO_CUDA_BUILD.into())
    }
}

#[cfg(feature = "cuda")]
mod cuda_impl {
    use cudarc::{driver::result as cu, nvrtc};

    pub(super) fn first_device() -> Result<super::Device, String> {
        // SAFETY: these only try to open the shared libraries by name; nothing is called yet.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err("no NVIDIA driver: libcuda.so cannot be opened".into());
        }
        // SAFETY: as above.
        if !unsafe { nvrtc::sys::is_culib_present() } {
            return Err(
                "no NVRTC: libnvrtc.so (the CUDA runtime compiler) cannot be opened".into(),
            );
        }
        cu::init().map_err(|e| format!("the CUDA driver does not start: {e}"))?;
        let count = cu::device::get_count().map_err(|e| format!("counting CUDA devices: {e}"))?;
        if count < 1 {
            return Err("the CUDA driver sees no device".into());
        }
        let dev = cu::device::get(0).map_err(|e| format!("opening CUDA device 0: {e}"))?;
        let name = cu::device::get_name(dev).unwrap_or_else(|e| format!("unnamed ({e})"));
        Ok(super::Device::Cuda { index: 0, name })
    }
}
