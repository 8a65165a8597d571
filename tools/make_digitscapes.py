"""Write DigitScapes, the segmentation dataset made from scikit-learn's
handwritten digits, in the Cityscapes layout; with ``--task cls``, the same
digits as a classification dataset, a folder per class; with ``--task
patches``, the digit patches that pretrain the DigitScapes backbones (see
mmkd/datasets.py).

    python tools/make_digitscapes.py data/digitscapes [--seed 0]
    python tools/make_digitscapes.py data/digits --task cls
    python tools/make_digitscapes.py data/digit_patches --task patches
"""
import argparse
import time

from mmkd.datasets import (SPLITS, write_digit_folders, write_digit_patches,
                           write_digitscapes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir', help='where to write the dataset')
    parser.add_argument('--task', choices=['seg', 'cls', 'patches'],
                        default='seg',
                        help='seg: DigitScapes scenes (default); cls: one '
                        'image per digit scan; patches: the pretraining set')
    parser.add_argument('--seed', type=int, default=0,
                        help='seg and patches: same seed, same files '
                        '(default 0)')
    args = parser.parse_args()
    start = time.perf_counter()
    if args.task == 'cls':
        if args.seed != 0:
            parser.error('--seed: the classification dataset has no random '
                         'draws; it is the same for every seed')
        write_digit_folders(args.out_dir)
        what = 'the digit scans for classification'
    elif args.task == 'patches':
        write_digit_patches(args.out_dir, args.seed)
        what = 'the digit patches for pretraining'
    else:
        write_digitscapes(args.out_dir, args.seed)
        what = 'DigitScapes (' + ', '.join(
            f'{count} {split}' for split, count in SPLITS.items()) + \
            ' images)'
    print(f'wrote {what} to {args.out_dir} in '
          f'{time.perf_counter() - start:.1f} s')


if __name__ == '__main__':
    main()
