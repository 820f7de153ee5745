use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use crucible_trainer::{
    Arch, DeviceChoice, Error, Job, LabelledSet, Report, Start, TrainConfig, device, onnx,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const EXIT_CODES: &str = "Exit codes: 0 done, 1 failed on the way (training diverged, a file \
could not be written), 2 bad input (data, --init model, hyper-parameters), 4 the requested \
device is not available.";

/// Trains Crucible candidate models on your own data and writes ONNX that the DApp scores.
#[derive(Parser, Debug)]
#[command(name = "crucible-trainer", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a model (from a seed, or fine-tuning a baseline) and write it as ONNX.
    Train(Box<TrainArgs>),
    /// Say which devices this build can train on.
    Devices {
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ArchName {
    Mlp,
    Cnn,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DeviceArg {
    Auto,
    Cpu,
    Cuda,
}

#[derive(clap::Args, Debug)]
struct TrainArgs {
    /// Architecture. Optional with --init, whose architecture is used.
    #[arg(long, value_enum)]
    arch: Option<ArchName>,
    /// Width of fc1 (fresh models only).
    #[arg(long)]
    hidden: Option<usize>,
    /// Output channels of conv1 and conv2 (fresh CNNs only).
    #[arg(long, value_delimiter = ',', value_name = "C1,C2")]
    channels: Option<Vec<usize>>,
    /// Training data: canonical safetensors (`x` float32/uint8 [N, …], `y` int64 [N]).
    #[arg(long)]
    data: PathBuf,
    /// Data to report the final accuracy on (e.g. the competition's validation set).
    #[arg(long)]
    val: Option<PathBuf>,
    /// An ONNX model of a supported architecture to start from (the competition's baseline).
    #[arg(long)]
    init: Option<PathBuf>,
    /// Where to train.
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceArg,
    /// Passes over the training data.
    #[arg(long)]
    epochs: usize,
    /// Samples per step.
    #[arg(long)]
    batch: usize,
    /// Learning rate.
    #[arg(long)]
    lr: f64,
    /// SGD momentum (0 for plain SGD).
    #[arg(long, default_value_t = 0.9)]
    momentum: f64,
    /// Seed of the initial weights and of the sample order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to write the ONNX model.
    #[arg(long)]
    out: PathBuf,
    /// One JSON document on stdout (the progress bar stays on stderr).
    #[arg(long)]
    json: bool,
}

pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train(&args),
        Command::Devices { json } => devices(json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            let code = match e.downcast_ref::<Error>() {
                Some(Error::Data(_) | Error::Init(_) | Error::Arch(_) | Error::Config(_)) => 2,
                Some(Error::Device(_)) => 4,
                _ => 1,
            };
            ExitCode::from(code)
        }
    }
}

fn read(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|source| Error::Data(format!("{}: {source}", path.display())).into())
}

fn train(args: &TrainArgs) -> anyhow::Result<()> {
    let train = LabelledSet::parse(&read(&args.data)?, &args.data.display().to_string())?;
    let val = match &args.val {
        Some(p) => Some(LabelledSet::parse(&read(p)?, &p.display().to_string())?),
        None => None,
    };
    let start = match (&args.init, args.arch) {
        (Some(path), arch) => {
            let weights = onnx::import(&read(path)?)
                .map_err(|e| Error::Init(format!("{}: {e}", path.display())))?;
            if let Some(arch) = arch
                && arch_name(arch) != weights.spec.arch.name()
            {
                return Err(Error::Config(format!(
                    "--arch {} but {} is a {}",
                    arch_name(arch),
                    path.display(),
                    weights.spec.arch
                ))
                .into());
            }
            if args.hidden.is_some() || args.channels.is_some() {
                return Err(Error::Config(
                    "--hidden and --channels are for fresh models: --init keeps the baseline's widths"
                        .into(),
                )
                .into());
            }
            Start::From(weights)
        }
        (None, Some(ArchName::Mlp)) => {
            if args.channels.is_some() {
                return Err(Error::Config("--channels is for --arch cnn".into()).into());
            }
            Start::Fresh(Arch::Mlp {
                hidden: args.hidden.unwrap_or(128),
            })
        }
        (None, Some(ArchName::Cnn)) => {
            let channels = match args.channels.as_deref() {
                None => [8, 16],
                Some(&[a, b]) => [a, b],
                Some(other) => {
                    return Err(Error::Config(format!(
                        "--channels takes two numbers, got {other:?}"
                    ))
                    .into());
                }
            };
            Start::Fresh(Arch::Cnn {
                channels,
                hidden: args.hidden.unwrap_or(64),
            })
        }
        (None, None) => {
            return Err(
                Error::Config("give --arch mlp|cnn, or --init baseline.onnx".into()).into(),
            );
        }
    };
    let job = Job {
        start,
        train: &train,
        validation: val.as_ref(),
        config: TrainConfig {
            epochs: args.epochs,
            batch: args.batch,
            lr: args.lr,
            momentum: args.momentum,
            seed: args.seed,
        },
        device: match args.device {
            DeviceArg::Auto => DeviceChoice::Auto,
            DeviceArg::Cpu => DeviceChoice::Cpu,
            DeviceArg::Cuda => DeviceChoice::Cuda,
        },
    };
    let progress = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    progress.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} steps {per_sec} {msg}",
        )
        .context("progress template")?,
    );
    let (weights, report) = crucible_trainer::run(&job, &progress)?;
    progress.finish_and_clear();
    let bytes = onnx::export(&weights)?;
    std::fs::write(&args.out, &bytes).map_err(|source| Error::Io {
        path: args.out.display().to_string(),
        source,
    })?;
    let cid = crucible_types::cid::Cid::of(&bytes);
    if args.json {
        let mut doc = serde_json::to_value(&report)?;
        doc["out"] = serde_json::json!({
            "path": args.out.display().to_string(),
            "bytes": bytes.len(),
            "cid": cid.to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print_report(&report);
        println!(
            "wrote {} ({} bytes, cid {cid})",
            args.out.display(),
            bytes.len()
        );
    }
    Ok(())
}

fn arch_name(a: ArchName) -> &'static str {
    match a {
        ArchName::Mlp => "mlp",
        ArchName::Cnn => "cnn",
    }
}

fn print_report(r: &Report) {
    if let Some(why) = &r.cuda_unavailable {
        println!("cuda not used: {why}");
    }
    println!(
        "{} on {}, {} parameters, {} training rows{}",
        r.spec.arch,
        r.device,
        r.params,
        r.train_rows,
        if r.deterministic {
            ", reproducible from the seed"
        } else {
            ", not bit-reproducible on this device"
        }
    );
    for e in &r.epochs {
        println!(
            "epoch {:>3}  loss {:.4}  {:>8.2} s  {:>10.0} samples/s",
            e.epoch, e.mean_loss, e.seconds, e.samples_per_s
        );
    }
    match r.steady_samples_per_s {
        Some(s) => println!(
            "{:.0} samples/s after the first epoch ({:.2} s, warm-up included), {:.0} overall",
            s, r.epochs[0].seconds, r.samples_per_s
        ),
        None => println!("{:.0} samples/s", r.samples_per_s),
    }
    println!(
        "{} accuracy {:.2} % ({}/{})",
        r.evaluated_on,
        r.evaluation.accuracy * 100.0,
        r.evaluation.correct,
        r.evaluation.rows
    );
}

fn devices(json: bool) -> anyhow::Result<()> {
    let cpu = device::cpu();
    let cuda = device::cuda();
    if json {
        let doc = serde_json::json!({
            "cpu": cpu,
            "cuda": match &cuda {
                Ok(d) => serde_json::to_value(d)?,
                Err(why) => serde_json::json!({ "unavailable": why }),
            },
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("{cpu}");
        match cuda {
            Ok(d) => println!("{d}"),
            Err(why) => println!("cuda: unavailable: {why}"),
        }
    }
    Ok(())
}
