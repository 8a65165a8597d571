"""The whole GPU check in one command: the CUDA tests, then the distill
step's cost on the Cityscapes pair at 512x1024 (mmkd.benchmark.gpu_check).

    python tools/gpu_check.py [--out DIR] [--stage NAME ...]

It uses the Python it is started with (a GPU machine may have its own
torch). Every stage runs in its own process under its own time limit and
writes its results when it ends, into DIR (default work_dirs/gpu_check):
its log, the step benchmarks' JSON and Markdown, and gpu_check.md with
every finished stage's outcome and tables. ``--stage`` runs the named
stages alone, so that a short time on a GPU can take them one by one.
"""
import argparse
import sys

from mmkd.benchmark.gpu_check import STAGES, run_gpu_check


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='work_dirs/gpu_check',
                        help='where the results go (default '
                        'work_dirs/gpu_check)')
    parser.add_argument('--stage', nargs='+', choices=list(STAGES),
                        help='run only these stages (default: all, in the '
                        'order listed)')
    parser.add_argument('--tests', default='tests/test_cuda.py',
                        help='the CUDA tests (default tests/test_cuda.py)')
    args = parser.parse_args()
    outcomes = run_gpu_check(args.out, args.stage, args.tests)
    print(f'wrote {args.out}/gpu_check.md')
    failed = [name for name, outcome in outcomes.items()
              if outcome['returncode'] != 0]
    if failed:
        sys.exit(f'[gpu_check] stages that did not pass: {failed} (see '
                 f'their logs in {args.out})')


if __name__ == '__main__':
    main()
