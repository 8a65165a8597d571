"""The benchmarks and the demo, importable: runs in child processes reused
by their settings (:mod:`.runs`), statistics (:mod:`.stats`), peak memory
measured one way (:mod:`.memory`), the step and loss benchmarks
(:mod:`.step`, :mod:`.losses`), the method benchmark on the digits
(:mod:`.methods`, :mod:`.pages`, :mod:`.sweeps`, its chosen settings in
``results/``), the demo (:mod:`.demo`) and the GPU check
(:mod:`.gpu_check`). The tools in the repository's ``tools/`` parse
arguments and call these. Nothing here is imported by ``import mmkd``."""
