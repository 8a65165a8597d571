"""Time a distillation training step against its floor: one student
training step plus one teacher inference forward (mmkd.benchmark.step).

    python tools/benchmark_step.py CONFIG [--crop 128 256] [--batch 2]
        [--iters 10] [--warmup 3] [--device cpu|cuda] [--amp]
        [--compare-losses] [--phases NAME ...] [--isolated-peaks]
        [--json FILE] [--markdown FILE] [--cfg-options KEY=VALUE ...]

Prints the student step (a), the teacher forward (b), the distill step (c)
per method, c/(a+b), the losses' share of c, peak memory against a + b and
the validation step; docs/performance.md reads them.
"""
from mmkd.benchmark.step import main

if __name__ == '__main__':
    main()
