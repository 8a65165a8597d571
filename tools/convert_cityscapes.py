"""Write the 19-class ``*_gtFine_labelTrainIds.png`` maps that the configs
read, from the polygon files of the official Cityscapes download.

    python tools/convert_cityscapes.py data/cityscapes [--nproc 8]

DATA_ROOT holds ``leftImg8bit/`` and ``gtFine/`` as unzipped from
``leftImg8bit_trainvaltest.zip`` and ``gtFine_trainvaltest.zip``. Each map is
drawn by the official ``cityscapesscripts`` (``json2labelImg``, trainId
encoding); maps newer than their polygon file are kept, so an interrupted
run resumes where it stopped.
"""
import argparse
import multiprocessing
import os
import os.path as osp
import sys

from mmengine.utils import ProgressBar

from mmkd.datasets.cityscapes import (TRAIN_IDS, CityscapesLayoutError,
                                      convert, is_converted, polygon_files)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('data_root', help='Cityscapes root directory')
    parser.add_argument('--nproc', type=int, default=os.cpu_count(),
                        help='parallel workers (default: all CPUs)')
    return parser.parse_args()


def main():
    args = parse_args()
    if args.nproc < 1:
        sys.exit(f'--nproc must be at least 1, got {args.nproc}')
    try:
        files = polygon_files(args.data_root)
    except CityscapesLayoutError as error:
        sys.exit(f'error: {error}')
    todo = [path for path in files if not is_converted(path)]
    print(f'{len(files)} polygon files, {len(files) - len(todo)} already '
          f'converted, {len(todo)} to convert with {args.nproc} workers')
    if not todo:
        return
    progress = ProgressBar(len(todo))
    with multiprocessing.Pool(args.nproc) as pool:
        try:
            for _ in pool.imap_unordered(convert, todo, chunksize=8):
                progress.update()
        except RuntimeError as error:
            sys.exit(f'\nerror: {error}')
    print(f'wrote {len(todo)} *{TRAIN_IDS} maps under '
          f'{osp.join(args.data_root, "gtFine")}')


if __name__ == '__main__':
    main()
