"""Plot training curves of one or more runs: the student's own losses, each
distill term and the validation metric against iterations, from mmengine's
``vis_data/scalars.json``.

    python tools/plot_curves.py WORK_DIR [WORK_DIR ...] --out curves.png
        [--labels NAME ...] [--title TEXT]

Each run gets its colour and each quantity its line style; a run is
labelled by its work dir unless ``--labels`` names them.
"""
import argparse
import sys

from mmkd.curves import CurveError, plot_curves, read_scalars


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dirs', nargs='+', metavar='WORK_DIR',
                        help='work dirs of tools/train.py')
    parser.add_argument('--out', required=True, help='the PNG to write')
    parser.add_argument('--labels', nargs='+', metavar='NAME',
                        help='one label per work dir')
    parser.add_argument('--title', default='')
    args = parser.parse_args()
    if args.labels and len(args.labels) != len(args.work_dirs):
        parser.error(f'{len(args.labels)} labels for {len(args.work_dirs)} '
                     'work dirs')
    return args


def main():
    args = parse_args()
    labels = args.labels or args.work_dirs
    try:
        runs = {label: read_scalars(work_dir)
                for label, work_dir in zip(labels, args.work_dirs)}
    except CurveError as error:
        sys.exit(f'error: {error}')
    plot_curves(runs, args.out, args.title)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
