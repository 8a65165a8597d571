"""Time and memory of every distill loss, forward plus backward, beside a
straightforward implementation of the same formula
(mmkd.benchmark.losses).

    python tools/benchmark_losses.py [--shape 8 19 128 256] [--device cpu]
        [--repeats 5] [--warmup 2] [--json]

Per loss: the median time over --repeats runs after --warmup, its ratio to
KD's, the peak memory above the inputs, the straightforward version's time
and the speed-up, and the largest differences between the two values and
gradients. Each measurement runs in a process of its own.
"""
import argparse
import json

from mmkd.benchmark.losses import benchmark_losses, table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--shape', type=int, nargs=4,
                        default=[8, 19, 128, 256],
                        metavar=('N', 'C', 'H', 'W'))
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--json', action='store_true',
                        help='print the results as JSON')
    args = parser.parse_args()
    figures = benchmark_losses(args.shape, args.device, args.repeats,
                               args.warmup)
    print(json.dumps(figures, indent=2) if args.json else table(figures))


if __name__ == '__main__':
    main()
