//! Loading: from a GGUF file and the options to a [`Model`] whose weights sit
//! on their devices, after checking that everything will fit.

use crate::engine::EngineOptions;
use crate::ggml::{Backend, Device};
use crate::gguf::GgufModel;

use super::placement::{gib, suggestions, MemoryPlan, Placement};
use super::{Hparams, ModelError, Weights};

/// A model ready to run: hyper-parameters, placement, backends and weights.
pub struct Model<'f> {
    /// The file.
    pub gguf: &'f GgufModel,
    /// Hyper-parameters.
    pub hp: Hparams,
    /// Where the layers are.
    pub placement: Placement,
    /// The options it was loaded with.
    pub opts: EngineOptions,
    /// What each device was planned to need.
    pub plan: MemoryPlan,
    /// The weights.
    pub weights: Weights<'f>,
    /// The GPU backend, when a layer is on the GPU.
    pub gpu: Option<Backend>,
    /// The CPU backend (always; it runs what the GPU does not).
    pub cpu: Backend,
    /// A one-line notice for the user (e.g. `-ngl` ignored without a GPU).
    pub notice: Option<String>,
}

/// Host memory available for new allocations (Linux: MemAvailable), or a
/// very large number when it cannot be read.
pub fn host_available() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(u64::MAX)
}

impl<'f> Model<'f> {
    /// Reads and checks the hyper-parameters, plans the placement, checks it
    /// fits, starts the backends and places the weights. `progress(done,
    /// total)` follows the GPU upload.
    pub fn load(
        gguf: &'f GgufModel,
        opts: &EngineOptions,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Model<'f>, ModelError> {
        let hp = Hparams::from_gguf(gguf)?;
        let gpu_dev = Device::gpus().into_iter().next();
        let (placement, mut notice) = Placement::new(hp.n_layer, opts, gpu_dev.is_some());
        if opts.n_ctx > hp.n_ctx {
            let line = format!(
                "-c {} is more than the {} tokens the model was trained for; using {}",
                opts.n_ctx, hp.n_ctx, hp.n_ctx
            );
            notice = Some(match notice {
                Some(n) => format!("{n}; {line}"),
                None => line,
            });
        }
        let plan_for = |o: &EngineOptions| {
            let (p, _) = Placement::new(hp.n_layer, o, gpu_dev.is_some());
            MemoryPlan::new(
                &hp,
                &p,
                o,
                gguf.tensors()
                    .map(|t| (t.info.name.as_str(), t.info.n_bytes)),
            )
        };
        let plan = plan_for(opts);
        let gpu_free = gpu_dev.map(|d| d.memory().0 as u64).unwrap_or(0);
        let host_free = host_available();
        if let Err(why) = plan.check(gpu_free, host_free) {
            let s = suggestions(&hp, opts, |o| {
                plan_for(o).check(gpu_free, host_free).is_ok()
            });
            let hint = if s.is_empty() {
                String::from("no placement fits; free memory or use a smaller -c")
            } else {
                format!("try {}", s.join(", or "))
            };
            return Err(ModelError::DoesNotFit(format!(
                "{}: {placement} does not fit: {why}; {hint}",
                gguf.path().display()
            )));
        }
        let cpu_dev =
            Device::cpu().ok_or_else(|| ModelError::DoesNotFit("ggml has no CPU device".into()))?;
        let cpu = cpu_dev.init()?;
        cpu.set_threads(opts.n_threads);
        // Like llama.cpp, a GPU also runs large batches of CPU-placed layers
        // (op offload), so it is started even with `-ngl 0`.
        let gpu = match gpu_dev {
            Some(d) if placement.uses_gpu() || opts.op_offload => Some(d.init()?),
            _ => None,
        };
        let pin = gpu
            .as_ref()
            .filter(|_| opts.op_offload && !opts.no_host)
            .map(|g| g.device());
        let weights = Weights::load(gguf, &hp, &placement, cpu_dev, gpu.as_ref(), pin, progress)
            .map_err(|e| match e {
                ModelError::Ggml(g) => ModelError::DoesNotFit(format!(
                    "{}: placing the weights ({placement}, {} on the GPU) failed: {g}",
                    gguf.path().display(),
                    gib(plan.gpu.weights)
                )),
                other => other,
            })?;
        Ok(Model {
            gguf,
            hp,
            placement,
            opts: opts.clone(),
            plan,
            weights,
            gpu,
            cpu,
            notice,
        })
    }

    /// The backends in scheduler order: GPU first, CPU last.
    pub fn backends(&self) -> Vec<&Backend> {
        self.gpu.iter().chain(std::iter::once(&self.cpu)).collect()
    }
}
