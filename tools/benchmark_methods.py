"""Compare the distillation methods on the handwritten digits: settings
chosen on val, results reported on test (mmkd.benchmark.methods).

    python tools/benchmark_methods.py [--task seg|cls] [--stage sweep|all]
        [--seeds 0 1 2] [--jobs 2] [--methods kd bdd ...] [--sweeps FILE]
        [--pages docs] [--results DIR]

``--task seg`` (default): PSPNets on DigitScapes, mIoU; ``--task cls``:
classifiers on the digit patches, top-1 accuracy. The runs are declared in
mmkd/benchmark/sweeps.py. The sweep (seed 0, val) chooses each method's
setting and writes its page and the chosen settings; ``--stage all`` then
trains the student alone, its doubled schedule and each method's default
and chosen setting on every seed and writes the test page. Runs live in
work_dirs/benchmark[_cls]/ and are reused while their settings and thread
count are unchanged. ``--jobs 2`` trains two runs side by side, one CPU
thread each.
"""
import argparse
import shlex
import sys

from mmengine.config import Config

from mmkd.benchmark.methods import RESULTS, TASKS, run_benchmark
from mmkd.benchmark.sweeps import SWEEPS


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--task', choices=list(TASKS), default='seg')
    parser.add_argument('--stage', choices=['sweep', 'all'], default='all',
                        help='sweep: the val sweep only; all: the sweep, '
                        'then the test runs (default)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2],
                        help='seeds of the test runs (the sweep uses 0)')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs trained side by side (default 1)')
    parser.add_argument('--methods', nargs='+',
                        help='test only these of the methods (default: all); '
                        'the sweep always covers all')
    parser.add_argument('--sweeps', help='a Python config file declaring '
                        'the runs as mmkd/benchmark/sweeps.py does (default: '
                        'that module)')
    parser.add_argument('--pages', default='docs',
                        help='where the pages go (default: docs)')
    parser.add_argument('--results', default=RESULTS,
                        help='where the chosen settings go (default: '
                        'mmkd/benchmark/results, which the demo reads)')
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error(f'--jobs must be at least 1, got {args.jobs}')
    return args


def main():
    args = parse_args()
    sweeps = SWEEPS if args.sweeps is None else Config.fromfile(
        args.sweeps).to_dict()
    command = 'python ' + ' '.join(shlex.quote(a) for a in sys.argv)
    try:
        run_benchmark(args.task, args.stage, args.seeds, args.jobs,
                      args.methods, sweeps, args.pages, args.results,
                      command)
    except ValueError as error:
        sys.exit(f'error: {error}')


if __name__ == '__main__':
    main()
