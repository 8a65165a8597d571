"""Write DigitScapes, the segmentation dataset made from scikit-learn's
handwritten digits, in the Cityscapes layout; or, with ``--task cls``, the
same digits as a classification dataset, a folder per class (see
mmkd/datasets.py).

    python tools/make_digitscapes.py data/digitscapes [--seed 0]
    python tools/make_digitscapes.py data/digits --task cls
"""
import argparse
import time

from mmkd.datasets import SPLITS, write_digit_folders, write_digitscapes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir', help='where to write the dataset')
    parser.add_argument('--task', choices=['seg', 'cls'], default='seg',
                        help='seg: DigitScapes scenes (default); cls: one '
                        'image per digit scan')
    parser.add_argument('--seed', type=int, default=0,
                        help='seg only: same seed, same files (default 0)')
    args = parser.parse_args()
    start = time.perf_counter()
    if args.task == 'cls':
        if args.seed != 0:
            parser.error('--seed: the classification dataset has no random '
                         'draws; it is the same for every seed')
        write_digit_folders(args.out_dir)
        what = 'the digit scans for classification'
    else:
        write_digitscapes(args.out_dir, args.seed)
        what = (f'DigitScapes ({SPLITS["train"]} train, {SPLITS["val"]} val '
                'images)')
    print(f'wrote {what} to {args.out_dir} in '
          f'{time.perf_counter() - start:.1f} s')


if __name__ == '__main__':
    main()
