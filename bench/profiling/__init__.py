"""Numbers that can be trusted: complexity, latency, memory and the environment they came from.

- :mod:`bench.profiling.complexity`: params, serialized size, MACs (fvcore, convolutions and
  linear layers; FLOPs = 2 x MACs) and the per-layer table.
- :mod:`bench.profiling.timing`: warm-up and timed loops, latency statistics.
- :mod:`bench.profiling.memory`: peak memory (CUDA allocator, process RSS on the CPU).
- :mod:`bench.profiling.environment`: versions, hardware, flags and git commit of a run.
- :mod:`bench.profiling.profiler`: ``profile_model``, one result row per batch size.

Import the submodules directly; this package imports nothing, so using one stays cheap.
"""
