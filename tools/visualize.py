"""Draw what a student learned: for each image, the input, the ground truth
(when the dataset layout has it), the teacher's and the student's
predictions in the dataset's palette, and the per-pixel KL(teacher ||
student), each model's mIoU on the image in its title.

    python tools/visualize.py CONFIG CHECKPOINT IMAGE [IMAGE ...] --out DIR
        [--teacher-config CONFIG --teacher-checkpoint FILE]
        [--trust-checkpoint]

CONFIG is a distiller config (its teacher is used unless the options name
another) or a student config with ``--teacher-config`` and
``--teacher-checkpoint``; CHECKPOINT holds the student (a distiller's
training checkpoint, an exported student, or a plain model). One PNG per
image goes to DIR.
"""
import argparse
import os
import os.path as osp
import sys

from mmkd.checkpoint import CheckpointError
from mmkd.models.distillers import DistillerConfigError
from mmkd.visualization import VisualizationError, load_pair, render


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help="the student's weights")
    parser.add_argument('images', nargs='+', metavar='IMAGE')
    parser.add_argument('--out', required=True, help='folder of the PNGs')
    parser.add_argument('--teacher-config')
    parser.add_argument('--teacher-checkpoint')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help="load the student's checkpoint with the full "
                        'unpickler, which can run code from the file')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        cfg, student, teacher = load_pair(
            args.config, args.checkpoint, args.teacher_config,
            args.teacher_checkpoint, args.trust_checkpoint)
        os.makedirs(args.out, exist_ok=True)
        for image in args.images:
            out = osp.join(args.out, osp.splitext(osp.basename(image))[0] +
                           '.png')
            scores = render(cfg, student, teacher, image, out)
            shown = ', '.join(f'{name} {value:.1f} mIoU'
                              for name, value in scores.items())
            print(f'wrote {out}' + (f' ({shown})' if shown else ''))
    except (VisualizationError, CheckpointError,
            DistillerConfigError) as error:
        sys.exit(f'error: {error}')


if __name__ == '__main__':
    main()
