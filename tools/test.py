"""Test a model on its config's test set and print the metrics (mIoU, ...).

    python tools/test.py CONFIG CHECKPOINT [--out DIR] [--show-dir DIR] [--tta]
                         [--cityscapes-official]

For a distiller config only the student is built and tested, as
MMSegmentation tests a plain model: the teacher is not downloaded, built or
run, and the data pipeline keeps mmkd's checked loaders. CHECKPOINT may be
a distiller training checkpoint or a plain student checkpoint; either way
its weights must fit the student exactly.

Prints aAcc, mIoU and mAcc, with the per-class IoU table in the log.
``--cityscapes-official`` also runs the official ``cityscapesscripts``
evaluation on the same predictions (class and category mIoU) and fails if
its class mIoU differs from MMSegmentation's.
"""
import argparse
import os
import sys

from mmengine.config import DictAction

from mmkd.runner import InputError, test


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='test config file path (or '
                        'mmkd::NAME.py)')
    parser.add_argument('checkpoint', help='checkpoint file path or URL')
    parser.add_argument(
        '--work-dir',
        help='where logs and metrics go (default: ./work_dirs/<config>)')
    parser.add_argument(
        '--out', help='save the predictions as label maps in this directory')
    parser.add_argument(
        '--show', action='store_true', help='show the predictions')
    parser.add_argument(
        '--show-dir', help='save images painted with predictions here')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='seconds per --show image')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. test_dataloader.batch_size=2')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument(
        '--tta', action='store_true', help='flip and multi-scale testing')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load CHECKPOINT with the full unpickler, which can run code '
        'from the file: only for files you trust that hold more than '
        'mmengine writes')
    parser.add_argument(
        '--cityscapes-official',
        action='store_true',
        help='also evaluate with cityscapesscripts (needs the '
        '*_gtFine_labelIds.png maps of the official download)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    try:
        metrics = test(args.config, args.checkpoint, args.work_dir,
                       args.cfg_options, args.launcher,
                       args.trust_checkpoint, args.out, args.show,
                       args.show_dir, args.wait_time, args.tta,
                       args.cityscapes_official)
    except InputError as error:
        sys.exit(str(error))
    print(' '.join(f'{name}: {value:.2f}' for name, value in metrics.items()))


if __name__ == '__main__':
    main()
