"""Peak memory during a measurement, in MiB.

CUDA: the caching allocator's peak (``torch.cuda.max_memory_allocated``) since
:meth:`PeakMemory.start` reset it: tensors the model allocated (weights, activations,
workspace), not the allocator's reserved-but-unused cache nor the CUDA context.

CPU: the process's resident set size (psutil), sampled at :meth:`PeakMemory.start` and at
every :meth:`PeakMemory.sample` (the profiler samples after each warm-up and timed
iteration); the peak is the largest sample. It is a whole-process figure: the Python
runtime, the torch libraries and the model's weights are included, so compare it between
models measured the same way rather than reading it as the forward pass alone. A short
allocation spike inside one forward pass can fall between two samples.
"""

from __future__ import annotations

import psutil
import torch

from bench.profiling.complexity import MIB


class PeakMemory:
    """Tracks the peak memory of ``device`` between :meth:`start` and :meth:`peak_mb`."""

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self._process = psutil.Process() if self.device.type != "cuda" else None
        self._peak_rss = 0

    def start(self) -> None:
        """Forget earlier peaks (the allocator's counter on CUDA, the RSS samples on the CPU)."""
        if self._process is None:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._peak_rss = 0
            self.sample()

    def sample(self) -> None:
        """Record the current RSS (CPU); a no-op on CUDA, whose allocator tracks its own peak."""
        if self._process is not None:
            self._peak_rss = max(self._peak_rss, self._process.memory_info().rss)

    def peak_mb(self) -> float:
        """The peak since :meth:`start`, MiB."""
        if self._process is None:
            torch.cuda.synchronize(self.device)
            return torch.cuda.max_memory_allocated(self.device) / MIB
        self.sample()
        return self._peak_rss / MIB
