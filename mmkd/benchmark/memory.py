"""Peak memory, measured one way for every benchmark.

- CUDA: the peak of ``torch.cuda.max_memory_allocated`` since the
  measurement started, above what was allocated then (the peak statistics
  are reset at the start): the tensors the caching allocator handed out,
  not what it reserved.
- CPU: the process's peak resident set size (``VmHWM`` in
  ``/proc/self/status``) above its resident set when the measurement
  started (``VmRSS``). A process's peak cannot be reset, so a CPU figure is
  the measured work's own only when the measurement starts in a fresh
  process (:func:`in_fresh_process`); it counts what the allocator and the
  libraries take too, not only tensors.
"""
import gc
import multiprocessing
from typing import Callable

__all__ = ['PeakMemory', 'COUNTERS', 'resident_mib', 'in_fresh_process',
           'free_cached_memory']


def resident_mib(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (the peak) of this process, in MiB."""
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f'no {field} in /proc/self/status')


class CudaMemory:
    """CUDA's allocated memory and its peak, which can be reset."""

    def reset(self) -> None:
        import torch
        torch.cuda.reset_peak_memory_stats()

    def now(self) -> float:
        import torch
        return torch.cuda.memory_allocated() / 2**20

    def peak(self) -> float:
        import torch
        return torch.cuda.max_memory_allocated() / 2**20


class ProcessMemory:
    """This process's resident set and its peak, which cannot be reset."""

    def reset(self) -> None:
        pass

    def now(self) -> float:
        return resident_mib('VmRSS')

    def peak(self) -> float:
        return resident_mib('VmHWM')


#: the counter of each device
COUNTERS = {'cuda': CudaMemory, 'cpu': ProcessMemory}


class PeakMemory:
    """The peak memory of what runs after this is made, above what was in
    use then, in MiB (:meth:`mib`), on ``device`` ('cpu' or 'cuda')."""

    def __init__(self, device: str):
        self.counter = COUNTERS[device]()
        self.counter.reset()
        self.base = self.counter.now()

    def mib(self) -> float:
        return self.counter.peak() - self.base


def in_fresh_process(function: Callable, *args):
    """``function(*args)`` in a new (spawned) process, whose peak resident
    set is that work's own. ``function`` must be importable by name."""
    context = multiprocessing.get_context('spawn')
    with context.Pool(1) as pool:
        return pool.apply(function, args)


def free_cached_memory() -> None:
    """Free what earlier work left (garbage, CUDA's cache), so that a CUDA
    measurement in this process sees the next work's tensors only."""
    gc.collect()
    import torch
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
