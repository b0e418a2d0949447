"""Real-hardware measurement of the embedding kernels.

- ``host``: vendor, family/model (Zen generation), frequency, cache geometry of this CPU; the timing
  model's ``host`` CPU preset built from them.
- ``events``: which perf events measure cycles, LLC misses and DRAM bytes per vendor.
- ``perf_parse`` / ``perf``: parse ``perf stat`` CSV/JSON; probe events; count only the
  kernel region through perf's control FIFO.
- ``region``: the child's side (enable/disable, ittapi resume/pause, MBM, wall time).
- ``vtune``, ``resctrl``, ``cachegrind`` (+ ``cachegrind_compare``): the other tools.
- ``backends``: the ``memprof profile`` backends; ``doctor``: what this machine can measure.
"""
