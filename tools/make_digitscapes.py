"""Write DigitScapes, the segmentation dataset made from scikit-learn's
handwritten digits (see mmkd/datasets.py), in the Cityscapes layout.

    python tools/make_digitscapes.py data/digitscapes [--seed 0]
"""
import argparse
import time

from mmkd.datasets import SPLITS, write_digitscapes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir', help='where to write the dataset')
    parser.add_argument('--seed', type=int, default=0,
                        help='same seed, same files (default 0)')
    args = parser.parse_args()
    start = time.perf_counter()
    write_digitscapes(args.out_dir, args.seed)
    print(f'wrote DigitScapes ({SPLITS["train"]} train, {SPLITS["val"]} val '
          f'images) to {args.out_dir} in {time.perf_counter() - start:.1f} s')


if __name__ == '__main__':
    main()
