"""Write DigitScapes, the segmentation dataset made from scikit-learn's
handwritten digits, in the Cityscapes layout; with ``--task patches``, the
digit patches, a folder per class: the classification counterpart, whose
train split also pretrains the DigitScapes backbones (see
mmkd/datasets.py).

    python tools/make_digitscapes.py data/digitscapes [--seed 0]
    python tools/make_digitscapes.py data/digit_patches --task patches
"""
import argparse
import time

from mmkd.datasets import SPLITS, write_digit_patches, write_digitscapes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir', help='where to write the dataset')
    parser.add_argument('--task', choices=['seg', 'patches'], default='seg',
                        help='seg: DigitScapes scenes (default); patches: '
                        'the digit patches for classification')
    parser.add_argument('--seed', type=int, default=0,
                        help='same seed, same files (default 0)')
    args = parser.parse_args()
    start = time.perf_counter()
    if args.task == 'patches':
        write_digit_patches(args.out_dir, args.seed)
        what = 'the digit patches'
    else:
        write_digitscapes(args.out_dir, args.seed)
        what = 'DigitScapes (' + ', '.join(
            f'{count} {split}' for split, count in SPLITS.items()) + \
            ' images)'
    print(f'wrote {what} to {args.out_dir} in '
          f'{time.perf_counter() - start:.1f} s')


if __name__ == '__main__':
    main()
