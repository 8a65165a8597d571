"""Print the mIoU that a decode head's output stride leaves reachable on a
dataset in the Cityscapes layout: the ground truth of each split seen
through each stride (mmkd.evaluation.output_stride_ceiling).

    python tools/stride_ceiling.py data/digitscapes --num-classes 11
        [--splits val test] [--strides 2 4 8 16]

Reads ``gtFine/<split>/*/*_gtFine_labelTrainIds.png`` (255: ignored).
"""
import argparse
import glob
import os.path as osp
import sys

import cv2
import torch

from mmkd.evaluation import output_stride_ceiling


def label_maps(paths, current):
    """The label maps of ``paths`` in turn; ``current`` holds the path of
    the one being scored, for the error messages, and is empty once all
    are read."""
    for path in paths:
        current[:] = [path]
        labels = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if labels is None or labels.ndim != 2:
            raise ValueError('not a single-channel image')
        yield torch.from_numpy(labels).long()
    current.clear()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('data_root')
    parser.add_argument('--num-classes', type=int, required=True)
    parser.add_argument('--splits', nargs='+', default=['val', 'test'])
    parser.add_argument('--strides', type=int, nargs='+',
                        default=[2, 4, 8, 16])
    args = parser.parse_args()
    # one small map at a time: a second thread only waits (70 ms a map
    # against 2 on one thread while other runs keep the cores busy)
    torch.set_num_threads(1)
    print('| split | ' + ' | '.join(f'stride {s}' for s in args.strides) +
          ' |')
    print('|---|' + '---:|' * len(args.strides))
    for split in args.splits:
        pattern = osp.join(args.data_root, 'gtFine', split, '*',
                           '*_gtFine_labelTrainIds.png')
        paths = sorted(glob.glob(pattern))
        if not paths:
            sys.exit(f'error: no label maps match {pattern}')
        current = []
        try:
            scores = [output_stride_ceiling(label_maps(paths, current),
                                            stride, args.num_classes)
                      for stride in args.strides]
        except ValueError as error:
            sys.exit(f'error: {current[0] if current else split}: {error}')
        print(f'| {split} ({len(paths)} maps) | ' +
              ' | '.join(f'{score:.2f}' for score in scores) + ' |')


if __name__ == '__main__':
    main()
